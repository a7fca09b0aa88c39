"""The generate page in headless Chromium at 1280x800 and 390x844: it fits the screen, every control
of the form is a 44 px target on a phone, the style picker is a radio group the keyboard works
(Tab to it, arrows to choose, the style this site cannot make skipped), idea chips and "Surprise me"
fill the description, the cost / lane / ETA line follows the choices without a reload, and the
form submits from the keyboard. Screenshots: test-artifacts/generate-desktop.png, generate-phone.png.

No AI key is set up here: "AI photo" is shown unavailable, with the reason, and never chosen."""

import pytest

from avatarsite.accounts.services import user_create
from generation.models import GenerationJob
from generation.prompts import PROMPT_SUGGESTIONS, SURPRISE_PROMPTS
from generation.styles import LOCAL_STYLES, NO_AI_SERVICE, style_label

PASSWORD = "a-long-password-1"
VIEWPORTS = [({"width": 1280, "height": 800}, "desktop"), ({"width": 390, "height": 844}, "phone")]
# Every control of the form a finger may need, with its size on the screen (hidden ones are skipped).
CONTROLS = "textarea, select, input:not([type=hidden]):not([type=radio]), .chip, .style-option, summary, button"
TARGETS = (
    """
[...document.querySelectorAll('[data-generate-form] :is(CONTROLS)')]
  .map(e => ({what: e.className || e.tagName, text: (e.textContent || e.name || '').trim().slice(0, 30), box: e.getBoundingClientRect()}))
  .filter(t => t.box.width > 0 && t.box.height > 0)
  .map(t => ({what: t.what, text: t.text, width: t.box.width, height: t.box.height}))
"""
).replace("CONTROLS", CONTROLS)
ACTIVE = """(() => {
  const e = document.activeElement;
  return {tag: e.tagName, name: e.name || '', value: e.value || '', type: e.type || ''};
})()"""
CHECKED = "document.querySelector('[name=style]:checked').value"
# The focus ring of the focused radio's card (the radio itself is transparent over its card).
CARD_OUTLINE = """(() => {
  const card = document.activeElement.nextElementSibling, style = getComputedStyle(card);
  return {style: style.outlineStyle, width: parseFloat(style.outlineWidth)};
})()"""


def _sign_in(page, site: str) -> None:
    page.goto(f"{site}/accounts/login/?next=/generate/")
    page.fill("input[name=login]", "keyboarder")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site}/generate/")
    page.wait_for_load_state("networkidle")


def _tab_until(page, matches, limit: int = 25) -> dict:
    for _ in range(limit):
        page.keyboard.press("Tab")
        active = page.evaluate(ACTIVE)
        if matches(active):
            return active
    raise AssertionError(f"Tab never reached the element; last was {active}")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("viewport", "name"), VIEWPORTS)
def test_the_generate_page_fits_is_touch_sized_and_works_from_the_keyboard(site, new_page, artifacts_dir, viewport, name):
    user_create(username="keyboarder", email="keyboarder@example.com", password=PASSWORD)
    page = new_page(viewport=viewport)
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    _sign_in(page, site)

    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    targets = page.evaluate(TARGETS)
    previews = page.evaluate("[...document.querySelectorAll('.style-option img.style-thumb')].map(i => i.complete && i.naturalWidth)")
    photo_reason = page.locator("[data-style-option=photo] .style-reason").inner_text()
    photo_disabled = page.locator("input[name=style][value=photo]").is_disabled()
    first_checked = page.evaluate(CHECKED)
    page.screenshot(path=str(artifacts_dir / f"generate-{name}.png"), full_page=True)

    # Keyboard: into the description, Tab to the first idea chip and take it.
    page.locator("textarea[name=prompt]").focus()
    _tab_until(page, lambda a: a["tag"] == "BUTTON")
    page.keyboard.press("Enter")
    chip_prompt = page.locator("textarea[name=prompt]").input_value()
    # "Surprise me" puts one of its ideas in the box.
    page.locator("[data-surprise]").click()
    surprise = page.locator("textarea[name=prompt]").input_value()
    # Tab on to the style picker: the focus lands on the chosen style; arrows choose another.
    page.locator("[data-surprise]").focus()
    landed = _tab_until(page, lambda a: a["name"] == "style")
    ring = page.evaluate(CARD_OUTLINE)
    with page.expect_response(lambda r: "/generate/estimate/" in r.url) as answered:
        page.keyboard.press("ArrowRight")
    estimate = answered.value.json()
    arrowed = page.evaluate(CHECKED)
    page.wait_for_function(f"document.querySelector('[data-style-label]').textContent === {style_label(arrowed)!r}")
    line = page.locator("[data-estimate]").inner_text()
    seen = set()
    for _ in range(len(LOCAL_STYLES) + 1):  # round the group: the unavailable style is never chosen
        page.keyboard.press("ArrowRight")
        seen.add(page.evaluate(CHECKED))
    while page.evaluate(CHECKED) != LOCAL_STYLES[1]:
        page.keyboard.press("ArrowRight")
    # The size, the "Advanced" disclosure with the seed, then the button: all by keyboard.
    _tab_until(page, lambda a: a["tag"] == "SUMMARY")
    page.keyboard.press("Enter")
    seed_label = page.locator("label[for=id_seed]").inner_text()
    seed_visible = page.locator("input[name=seed]").is_visible()
    submit = _tab_until(page, lambda a: a["tag"] == "BUTTON" and a["type"] == "submit")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site}/generate/jobs/**")

    assert widths[0] <= widths[1], f"sideways scroll: {widths}"
    assert all(previews)
    assert len(previews) == len(LOCAL_STYLES)
    assert (photo_disabled, photo_reason) == (True, f"Unavailable: {NO_AI_SERVICE}")
    assert first_checked == LOCAL_STYLES[0]
    if name == "phone":
        small = [t for t in targets if t["height"] < 44 or t["width"] < 44]
        assert not small, f"targets under 44 px: {small}"
    assert {t["text"] for t in targets if "chip" in t["what"]} >= {idea.label for idea in PROMPT_SUGGESTIONS}
    assert chip_prompt == PROMPT_SUGGESTIONS[0].prompt
    assert surprise in SURPRISE_PROMPTS
    assert (landed["name"], landed["value"]) == ("style", LOCAL_STYLES[0])
    assert ring["style"] != "none"
    assert ring["width"] >= 2
    assert arrowed == LOCAL_STYLES[1] == estimate["style"]
    assert style_label(LOCAL_STYLES[1]) in line
    assert "Free" in line
    assert "standard lane, position 1" in line
    assert "photo" not in seen
    assert seen <= set(LOCAL_STYLES)
    assert seed_label == "Seed (optional)"
    assert seed_visible
    assert submit["type"] == "submit"
    job = GenerationJob.objects.get(user__username="keyboarder")
    assert (job.style, job.prompt, job.quota_units) == (LOCAL_STYLES[1], surprise, 0)
    assert problems == []
