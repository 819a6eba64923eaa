"""Second factors in the console, in a real browser against `sump serve`: an authenticator app enrolled from its
shown key (the code computed with pyotp) and used at the second sign-in step, a recovery code instead of it and
their regeneration, the step-up page before "rotate now" and back, the required policy leading an account
without a factor through enrolment at sign-in, the policy settings, and an admin's reset of a tenant account's
and an end user's factors. No step needs JavaScript."""

from __future__ import annotations

import time

import httpx
import pyotp
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, make_owner, screenshot, sign_in, signed_in
from tests.console.test_environments import add_member, create_end_user
from tests.support import PASSWORD


def code(seed: str, offset: int = 0) -> str:
    """The code of the time step `offset` steps from now (the server accepts ±1 step, each step once)."""
    return pyotp.TOTP(seed).at(time.time() + 30 * offset)


def enrol_by_api(api: httpx.Client, base: str, token: str) -> tuple[str, list[str], str]:
    """Enrols an authenticator app through the API with the current step's code: its seed, recovery codes, and
    the code it used (a later `code(seed)` may be of the next step, if one began since)."""
    auth = {"Authorization": f"Bearer {token}"}
    started = api.post(f"{base}/me/factors/totp", json={"label": "phone"}, headers=auth)
    assert started.status_code == 201, started.text
    setup = started.json()
    used = code(setup["secret"])
    confirmed = api.post(f"{base}/me/factors/{setup['factorId']}/confirm", json={"code": used}, headers=auth)
    assert confirmed.status_code == 200, confirmed.text
    return setup["secret"], confirmed.json()["recoveryCodes"], used


def owner_base(owner: Owner) -> str:
    return f"/auth/tenants/{owner.tenant_id}"


def second_step(page: Page, owner: Owner, answer: str) -> None:
    sign_in(page, owner.tenant_id, owner.email)
    expect(page.get_by_label("Code from your authenticator app, or a recovery code")).to_be_visible()
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(answer)
    page.get_by_role("button", name="Continue").click()


def test_an_authenticator_app_is_enrolled_in_settings_and_asked_for_at_sign_in(
    page: Page, phone: Page, owner: Owner
) -> None:
    signed_in(page, owner)
    page.goto("/console/settings?tab=account")
    expect(page.get_by_test_id("own-factors")).to_contain_text("No second factor yet")
    page.get_by_role("button", name="Add an authenticator app").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add an authenticator app")
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    seed = page.locator("button[data-copy]").first.get_attribute("data-copy")
    assert seed
    uri = page.get_by_test_id("totp-uri").text_content() or ""
    assert uri.startswith("otpauth://totp/")
    assert f"secret={seed}" in uri
    screenshot(page, "factors-totp")

    page.get_by_label("Code from the app").fill("000000" if code(seed) != "000000" else "111111")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#e-code")).to_have_text("The code is not correct.")
    page.get_by_label("Code from the app").fill(code(seed))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Authenticator app added")
    codes = page.get_by_test_id("recovery-codes").locator("code").all_text_contents()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    screenshot(page, "factors-recovery-codes")
    page.get_by_role("link", name="I have saved them").click()
    expect(page.get_by_test_id("own-factors")).to_contain_text("Authenticator app")
    expect(page.get_by_test_id("recovery-codes-left")).to_have_text("10 recovery codes left.")
    screenshot(page, "factors-settings")

    page.context.clear_cookies()
    second_step(page, owner, code(seed, 1))
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)

    sign_in(phone, owner.tenant_id, owner.email)
    expect(phone.get_by_label("Code from your authenticator app, or a recovery code")).to_be_visible()
    screenshot(phone, "factors-second-step")
    phone.goto("/console/settings?tab=account")
    expect(phone).to_have_url("/console/login?next=%2Fconsole%2Fsettings%3Ftab%3Daccount")  # no session yet


def test_a_recovery_code_signs_in_once_and_regenerated_codes_replace_the_old(
    page: Page, api: httpx.Client, owner: Owner
) -> None:
    _, codes, _ = enrol_by_api(api, owner_base(owner), owner.token)
    second_step(page, owner, codes[0].upper().replace("-", " "))  # case, spaces and dashes do not count
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)
    page.goto("/console/settings?tab=account")
    expect(page.get_by_test_id("recovery-codes-left")).to_have_text("9 recovery codes left.")

    page.get_by_role("button", name="Regenerate recovery codes").click()  # a recovery code just counted as a factor
    expect(page.get_by_role("heading", level=1)).to_have_text("New recovery codes")
    fresh = page.get_by_test_id("recovery-codes").locator("code").all_text_contents()
    assert len(fresh) == 10
    assert not set(fresh) & set(codes)
    screenshot(page, "factors-regenerated")

    page.context.clear_cookies()
    second_step(page, owner, codes[1])
    expect(page.get_by_role("alert")).to_have_text("The code is not correct.")
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(fresh[0])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)

    page.context.clear_cookies()
    second_step(page, owner, codes[0])  # used once already
    expect(page.get_by_role("alert")).to_have_text("The code is not correct.")


def test_rotate_now_leads_to_the_step_up_page_and_back(
    page: Page, phone: Page, api: httpx.Client, owner: Owner
) -> None:
    signed_in(page, owner)  # before the factor: this session has never used one
    seed, _, used = enrol_by_api(api, owner_base(owner), owner.token)
    rotate = f"/console/environments/{owner.environment_id}/keys/rotate"
    page.goto(rotate)
    page.get_by_role("button", name="Rotate now").click()
    expect(page).to_have_url(f"/console/step-up?next={rotate.replace('/', '%2F')}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it is you")
    screenshot(page, "factors-step-up")

    page.get_by_label("Authenticator code or recovery code").fill(used)  # the step the API used: spent
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#e-code")).to_have_text("The code is not correct.")
    page.get_by_label("Authenticator code or recovery code").fill(code(seed, 1))
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(rotate)
    expect(page.get_by_role("status").first).to_contain_text("Confirmed")
    page.get_by_role("button", name="Rotate now").click()
    expect(page.get_by_role("status").first).to_contain_text("Keys rotated")

    phone.context.add_cookies(page.context.cookies())  # type: ignore[arg-type]  # a Cookie is a SetCookieParam
    phone.goto(f"/console/step-up?next={rotate}")
    screenshot(phone, "factors-step-up")


def test_the_required_policy_leads_through_enrolment_at_sign_in(page: Page, phone: Page, api: httpx.Client) -> None:
    owner = make_owner(api)
    signed_in(page, owner)
    page.goto("/console/settings?tab=tenant")
    page.get_by_label("Second factors of tenant accounts").select_option("required")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status").first).to_have_text("Second factors are now required.")
    tenant = api.get(f"/tenants/{owner.tenant_id}", headers=owner.auth).json()
    assert tenant["settings"]["factorPolicy"] == "required"

    page.context.clear_cookies()
    sign_in(page, owner.tenant_id, owner.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Add an authenticator app")
    expect(page.get_by_role("link", name="Cancel")).to_have_count(0)
    seed = page.locator("button[data-copy]").first.get_attribute("data-copy")
    assert seed
    screenshot(page, "factors-required-enrolment")
    assert "sump_session" not in {cookie["name"] for cookie in page.context.cookies()}  # not before the first code
    page.get_by_label("Code from the app").fill(code(seed))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Authenticator app added")
    expect(page.get_by_test_id("recovery-codes").locator("code")).to_have_count(10)
    page.get_by_role("link", name="I have saved them").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(owner.tenant_name)

    sign_in(phone, owner.tenant_id, owner.email)  # a second browser is asked for the code, not enrolment
    expect(phone.get_by_label("Code from your authenticator app, or a recovery code")).to_be_visible()
    member = add_member(api, owner, "user")
    phone.context.clear_cookies()
    sign_in(phone, owner.tenant_id, member)
    expect(phone.get_by_role("heading", level=1)).to_have_text("Add an authenticator app")
    screenshot(phone, "factors-required-enrolment")


def test_an_environments_policy_is_set_on_its_page(page: Page, api: httpx.Client, owner: Owner) -> None:
    signed_in(page, owner)
    page.goto(f"/console/environments/{owner.environment_id}")
    page.get_by_label("Second factors of end users").select_option("off")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").first).to_have_text("Settings saved.")
    expect(page.get_by_label("Second factors of end users")).to_have_value("off")
    environment = api.get(f"/tenants/{owner.tenant_id}/environments/{owner.environment_id}", headers=owner.auth).json()
    assert environment["settings"]["factorPolicy"] == "off"


def test_an_admin_resets_the_factors_of_an_account_and_of_an_end_user(
    page: Page, phone: Page, api: httpx.Client, owner: Owner
) -> None:
    email = add_member(api, owner, "admin")
    login = api.post(f"/auth/tenants/{owner.tenant_id}/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    enrol_by_api(api, owner_base(owner), login.json()["token"])
    member_id = login.json()["accountId"]
    user = create_end_user(api, owner, owner.environment_id, password=PASSWORD)
    end_login = api.post(
        f"/auth/environments/{owner.environment_id}/login", json={"email": user["email"], "password": PASSWORD}
    )
    assert end_login.status_code == 200, end_login.text
    enrol_by_api(api, f"/auth/environments/{owner.environment_id}", end_login.json()["token"])

    signed_in(page, owner)  # the owner has no factor of their own: no step-up
    page.goto(f"/console/accounts/{member_id}")
    expect(page.get_by_test_id("reset-factors")).to_be_visible()
    screenshot(page, "factors-reset-account")
    page.get_by_role("button", name="Reset second factors").click()
    expect(page.get_by_role("status").first).to_contain_text("Second factors reset: 1 factor was removed")
    expect(page.get_by_test_id("reset-factors")).to_have_count(0)
    again = api.post(f"/auth/tenants/{owner.tenant_id}/login", json={"email": email, "password": PASSWORD})
    assert again.status_code == 200  # no second step any more
    assert "token" in again.json()

    phone.context.add_cookies(page.context.cookies())  # type: ignore[arg-type]  # a Cookie is a SetCookieParam
    phone.goto(f"/console/environments/{owner.environment_id}/users/{user['id']}")
    expect(phone.get_by_test_id("reset-factors")).to_be_visible()
    screenshot(phone, "factors-reset-end-user")
    phone.get_by_role("button", name="Reset second factors").click()
    expect(phone.get_by_role("status").first).to_contain_text("Second factors reset: 1 factor was removed")
    end_again = api.post(
        f"/auth/environments/{owner.environment_id}/login", json={"email": user["email"], "password": PASSWORD}
    )
    assert end_again.status_code == 200
    assert "token" in end_again.json()


def test_granting_power_in_the_console_leads_to_the_step_up_page_and_back(page: Page, api: httpx.Client) -> None:
    """An invitation into admin, and a new automation client, asked by an owner whose session has not used their
    factor: the step-up page, then back to the form, which then does it."""
    invited = "An invitation is on its way to new-admin@example.com"
    for form, fill, submit, done in (
        ("/console/accounts/new", {"Email": "new-admin@example.com"}, "Invite or create", page.get_by_text(invited)),
        (
            "/console/automation-clients",
            {"Name": "Nightly sync"},
            "Create automation client",
            page.get_by_test_id("client-secret"),
        ),
    ):
        owner = make_owner(api)
        page.context.clear_cookies()
        signed_in(page, owner)  # before the factor: this session has never used one
        seed, _, _ = enrol_by_api(api, owner_base(owner), owner.token)
        for attempt in range(2):
            page.goto(form)
            for label, value in fill.items():
                page.get_by_label(label, exact=True).fill(value)
            if form.endswith("new"):
                page.get_by_label("Role").select_option("admin")
            else:
                page.get_by_label("environments:read").check()
            page.get_by_role("button", name=submit).click()
            if attempt == 0:
                expect(page).to_have_url(f"/console/step-up?next={form.replace('/', '%2F')}")
                page.get_by_label("Authenticator code or recovery code").fill(code(seed, 1))
                page.get_by_role("button", name="Confirm").click()
                expect(page).to_have_url(form)
        expect(done).to_have_count(1)
    made = api.get(f"/tenants/{owner.tenant_id}/clients", headers=owner.auth).json()
    assert [client["name"] for client in made] == ["Nightly sync"]
