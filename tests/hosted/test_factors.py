"""The hosted sign-in's second step: the authenticator app's code or a recovery code on the challenge of the
first step (the same checks as `…/login/factor`), and the enrolment that the `required` policy demands."""

from __future__ import annotations

import httpx

from tests.factors.conftest import Clock, end_user_with_totp
from tests.hosted.support import CHALLENGE, CSRF, FACTOR, RECOVERY, SECRET, csrf_of, found, pages, sign_in
from tests.support import PASSWORD, TenantWorld


async def test_the_code_is_asked_for_and_checked(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    user, enrolled = await end_user_with_totp(client, world, clock)
    base = pages(world.environment_id)
    first = await sign_in(browser, world.environment_id, user.email, PASSWORD)
    assert first.status_code == 200
    assert "sump_hosted=" not in first.headers.get("set-cookie", "")
    step = {"csrf": found(CSRF, first.text), "challenge": found(CHALLENGE, first.text)}

    wrong = await browser.post(f"{base}/sign-in/factor", data={**step, "code": clock.code(enrolled.seed, 3)})
    assert wrong.status_code == 401
    assert step["challenge"] in wrong.text  # the form keeps its challenge for another try
    done = await browser.post(f"{base}/sign-in/factor", data={**step, "code": clock.code(enrolled.seed)})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{base}/signed-in"
    assert "sump_hosted=" in done.headers["set-cookie"]

    browser.cookies.clear()
    step["csrf"] = await csrf_of(browser, f"{base}/sign-in")
    used = await browser.post(f"{base}/sign-in/factor", data={**step, "code": clock.code(enrolled.seed, 1)})
    assert used.status_code == 401
    assert 'name="password"' in used.text  # the challenge is spent: back to the first step


async def test_a_recovery_code_signs_in_once(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    user, enrolled = await end_user_with_totp(client, world, clock)
    base = pages(world.environment_id)
    for expected in (303, 401):
        first = await sign_in(browser, world.environment_id, user.username, PASSWORD)
        step = {"csrf": found(CSRF, first.text), "challenge": found(CHALLENGE, first.text)}
        answer = await browser.post(f"{base}/sign-in/factor", data={**step, "code": enrolled.recovery_codes[0]})
        assert answer.status_code == expected
        browser.cookies.clear()


async def test_a_challenge_of_another_environment_is_refused(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    other_environment = await world.add_environment()
    user, enrolled = await end_user_with_totp(client, world, clock)
    first = await sign_in(browser, world.environment_id, user.email, PASSWORD)
    challenge = found(CHALLENGE, first.text)
    elsewhere = pages(other_environment)
    csrf = found(CSRF, (await browser.get(f"{elsewhere}/sign-in")).text)
    step = {"csrf": csrf, "challenge": challenge, "code": clock.code(enrolled.seed)}
    refused = await browser.post(f"{elsewhere}/sign-in/factor", data=step)
    assert refused.status_code == 401
    assert "sump_hosted=" not in refused.headers.get("set-cookie", "")


async def test_the_required_policy_leads_through_enrolment(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, world: TenantWorld, clock: Clock
) -> None:
    user = await world.add_end_user(world.environment_id)  # signed up before factors were required
    url = f"{world.base}/environments/{world.environment_id}"
    required = await client.patch(url, json={"settings": {"factorPolicy": "required"}}, headers=world.owner.auth)
    assert required.status_code == 204
    base = pages(world.environment_id)
    page = await sign_in(browser, world.environment_id, user.email, PASSWORD)
    assert page.status_code == 200
    assert "<svg" in page.text
    assert "sump_hosted=" not in page.headers.get("set-cookie", "")
    secret = found(SECRET, page.text)
    step = {
        "csrf": found(CSRF, page.text),
        "challenge": found(CHALLENGE, page.text),
        "factorId": found(FACTOR, page.text),
    }

    wrong = await browser.post(f"{base}/sign-in/enrol", data={**step, "code": clock.code(secret, 3)})
    assert wrong.status_code == 403  # as the API's enrolment answers a wrong first code
    assert "The code is not correct." in wrong.text
    assert step["factorId"] in wrong.text
    done = await browser.post(f"{base}/sign-in/enrol", data={**step, "code": clock.code(secret)})
    assert done.status_code == 200, done.text
    assert len(RECOVERY.findall(done.text)) == 10
    assert "sump_hosted=" in done.headers["set-cookie"]
    assert f'href="{base}/signed-in"' in done.text
    browser.cookies.clear()
    step["csrf"] = await csrf_of(browser, f"{base}/sign-in")
    forged = await browser.post(f"{base}/sign-in/enrol", data={**step, "factorId": "not-an-id", "code": "123456"})
    assert forged.status_code == 401
    assert 'name="password"' in forged.text
