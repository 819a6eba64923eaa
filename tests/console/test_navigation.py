"""Finding one's way: End users in the sidebar with an environment picker (a plain GET form), the switcher on an
end user list, each environment's pages linked from one another; and, at phone width, badges, ids, codes and
addresses that wrap only between words or after `.`, `@`, `_`, `:`, `/` and `-`, never mid-word."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Owner, make_owner, screenshot, signed_in
from tests.console.organization_pages import create_organization, environment_path
from tests.console.test_environments import create_end_user, create_environment
from tests.console.test_layout import assert_fits

# Every place where the text of `selector` wraps to a new line after a character that is not a break point.
MID_WORD_BREAKS = r"""
(selector) => Array.from(document.querySelectorAll(selector)).flatMap((element) => {
  // [character, top of its box or null when it has none (collapsed white space), the block it flows in]
  const chars = [];
  const blockOf = (node) => {
    let parent = node.parentElement;
    while (parent !== element && getComputedStyle(parent).display.startsWith("inline")) parent = parent.parentElement;
    return parent;
  };
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const block = blockOf(node);
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      chars.push([node.data[i], rect && rect.width > 0 ? rect.top : null, block]);
    }
  }
  const breaks = [];
  let last = -1;
  for (let i = 0; i < chars.length; i++) {
    if (chars[i][1] === null) continue;
    if (last >= 0 && chars[i][2] === chars[last][2] && chars[i][1] > chars[last][1] + 4) {
      const between = chars.slice(last, i).map((c) => c[0]).join("");
      if (!/[.@_:\/\-\s,(]/.test(between)) {
        breaks.push(element.textContent.trim().slice(0, 60) + " | after " + between);
      }
    }
    last = i;
  }
  return breaks;
})
"""


def sidebar(page: Page, name: str) -> object:
    return page.get_by_role("navigation", name="Console").get_by_role("link", name=name, exact=True)


def test_end_users_in_the_sidebar_with_an_environment_picker(page: Page, api: httpx.Client, owner: Owner) -> None:
    staging = create_environment(api, owner, "staging")
    create_end_user(api, owner, staging, name="Stella Staging")
    signed_in(page, owner)
    nav = page.get_by_role("navigation", name="Console")
    nav.get_by_role("link", name="End users", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/end-users$"))
    expect(nav.get_by_role("link", name="End users", exact=True)).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name="End users of staging")).to_be_visible()
    screenshot(page, "end-user-picker")
    page.get_by_label("Environment", exact=True).select_option(label="staging")
    page.get_by_role("button", name="Show end users").click()
    expect(page).to_have_url(re.compile(rf"/console/environments/{staging}/users$"))
    expect(page.get_by_role("link", name="Stella Staging")).to_be_visible()
    expect(nav.get_by_role("link", name="End users", exact=True)).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Environments", exact=True)).not_to_have_attribute("aria-current", "page")

    # The list switches environment with the same GET form; the environment's pages link to one another.
    expect(page.get_by_label("Environment", exact=True)).to_have_value(staging)
    page.get_by_label("Environment", exact=True).select_option(label="default")
    page.get_by_role("button", name="Switch").click()
    expect(page).to_have_url(re.compile(rf"/console/environments/{owner.environment_id}/users$"))
    expect(page.get_by_text("No end users yet.")).to_be_visible()
    tabs = page.get_by_role("navigation", name="Environment default")
    expect(tabs.get_by_role("link", name="End users")).to_have_attribute("aria-current", "page")
    for name, path in (
        ("Organizations", "/organizations"),
        ("Roles and permissions", "/roles"),
        ("Clients", "/clients"),
        ("Signing keys", "/keys"),
        ("Overview", ""),
    ):
        tabs.get_by_role("link", name=name).click()
        expect(page).to_have_url(re.compile(rf"{environment_path(owner)}{path}$"))
        expect(tabs.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")


def test_the_picker_answers_404_for_another_tenants_environment(page: Page, api: httpx.Client, owner: Owner) -> None:
    other = make_owner(api)
    signed_in(page, owner)
    for query in (f"?environment={other.environment_id}", "?environment=not-a-uuid"):
        response = page.goto("/console/end-users" + query)
        assert response is not None
        assert response.status == 404, query
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_phone_wraps_at_sensible_points(phone: Page, api: httpx.Client, owner: Owner) -> None:
    staging = create_environment(api, owner, "staging-environment-for-phones")
    long_email = "someone.with.a.very.long.address@subdomain.example-company.com"
    user = create_end_user(api, owner, owner.environment_id, email=long_email, username="a_long_user_name_x")
    for number in range(3):
        create_end_user(api, owner, owner.environment_id, name=f"Anna Longname-Doublebarrel {number}")
    organization_id = create_organization(api, owner, user["id"], "Phone Organization")
    api.patch(f"/environments/{owner.environment_id}/accounts/{user['id']}/disable", headers=owner.auth)
    signed_in(phone, owner)
    pages = {
        "end-users": f"{environment_path(owner)}/users",
        "end-user-detail": f"{environment_path(owner)}/users/{user['id']}",
        "environments": "/console/environments",
        "activity": "/console/activity",
        "dashboard": "/console/",
        "organization-detail": f"{environment_path(owner)}/organizations/{organization_id}",
        "end-user-picker": "/console/end-users",
        "settings-account": "/console/settings?tab=account",
        "staging-users": f"{environment_path(owner, staging)}/users",
    }
    for name, path in pages.items():
        phone.goto(path)
        expect(phone.get_by_role("navigation", name="Console")).to_be_visible()
        screenshot(phone, name)
        assert_fits(phone, name)
        broken = phone.evaluate(MID_WORD_BREAKS, "main .badge, main code, main td:not(:has(details)), main dd")
        assert broken == [], f"{name}: {broken}"
        scrolled = phone.evaluate(
            "() => Array.from(document.querySelectorAll('.card')).filter((c) => c.scrollWidth > c.clientWidth + 1)"
            ".map((c) => c.textContent.trim().slice(0, 40))"
        )
        assert scrolled == [], f"{name}: cards scroll sideways: {scrolled}"
    phone.goto(pages["end-users"])
    expect(phone.locator("#results .badge").first).to_be_visible()
    heights = phone.locator("#results .badge").evaluate_all("(badges) => badges.map((b) => b.getClientRects().length)")
    assert set(heights) == {1}, heights
