"""The form preview in a real Chromium: the LeadLifecycle v1 form filled and submitted in English and in Arabic
(right to left), a soft warning while typing, the aggregated hard-error report at submit, a draft resumed in a new
page, role and locale switched mid-form. Each test leaves a screenshot in the test artifacts."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.server import LEAD_V1, Running, running_app

# LeadLifecycle v1 declares en and de; the Arabic test serves a copy that also declares ar (right to left).
ARABIC = """\
direction: rtl
labels:
  Lead.firstName: الاسم الأول
  Lead.lastName: اسم العائلة
  Lead.email: البريد الإلكتروني
  Lead.phone: الهاتف
  Lead.company: الشركة
  Lead.industry: القطاع
  Lead.companySize: عدد الموظفين
  Lead.annualRevenue: الإيرادات السنوية
  Lead.status: الحالة
  Lead.source: المصدر
  Lead.owner: المسؤول
  Lead.nextFollowUp: المتابعة التالية
  Lead.createdAt: تاريخ الإنشاء
  Lead.score: التقييم
  User.displayName: الاسم
  User.email: البريد الإلكتروني
  User.active: نشط
  step.personal: البيانات الشخصية
  step.company: بيانات الشركة
  step.review: المراجعة
picklists:
  Lead.industry: {software: برمجيات, manufacturing: تصنيع, finance: خدمات مالية, healthcare: رعاية صحية,
                  retail: تجزئة, other: أخرى}
  Lead.status: {new: جديد, contacted: تم التواصل, qualified: مؤهل, disqualified: غير مؤهل}
  Lead.source: {web: الموقع, referral: توصية, event: فعالية, partner: شريك, coldCall: اتصال مباشر}
messages:
  validation.lastNameRequired: يرجى إدخال اسم العائلة.
  validation.emailFormat: لا يبدو هذا عنوان بريد إلكتروني.
  validation.companySizeRange: يجب أن يكون عدد الموظفين بين 1 و5000000.
  validation.annualRevenuePlausible: يرجى التحقق من الإيرادات السنوية؛ فهي مرتفعة بشكل غير عادي.
  guard.contactChannelRequired: أدخل بريدًا إلكترونيًا أو رقم هاتف للمتابعة.
  guard.bigAccountsByManagers: يُدخل مدير المبيعات العملاء المحتملين بإيرادات 50 مليون يورو أو أكثر.
  guard.qualifyNeedsScore: لا يمكن تأهيل إلا العملاء بتقييم 50 أو أكثر.
plurals:
  leads.count: {zero: "لا عملاء", one: "عميل واحد", two: "عميلان", few: "{count} عملاء", many: "{count} عميلًا",
                other: "{count} عميل"}
  leads.overdue: {zero: "لا متابعات متأخرة", one: "متابعة متأخرة", two: "متابعتان متأخرتان",
                  few: "{count} متابعات متأخرة", many: "{count} متابعة متأخرة", other: "{count} متابعة متأخرة"}
"""
Shot = Callable[[Any, str], Path]


@pytest.fixture
def lead_copy(tmp_path: Path) -> Iterator[Running]:
    """A copy of LeadLifecycle v1 that also declares ar, served from a fresh store (its files may be edited)."""
    copy = tmp_path / "LeadLifecycle"
    shutil.copytree(LEAD_V1, copy)
    (copy / "localization" / "ar.yaml").write_text(ARABIC, encoding="utf-8")
    manifest = copy / "package.yaml"
    manifest.write_text(manifest.read_text().replace("locales: [en, de]", "locales: [en, de, ar]"), encoding="utf-8")
    with running_app([copy], tmp_path / "sandbox.duckdb") as running:
        assert running.sandbox is not None and running.sandbox.served["LeadLifecycle"].errors == []
        yield running


def _open(page: Any, server: Running) -> None:
    page.goto(server.url + "#/LeadLifecycle")
    page.wait_for_selector(".form-step h2")


def _field(page: Any, path: str) -> Any:
    return page.locator(f"[id='field-{path}']")


def _type(page: Any, path: str, text: str) -> None:
    """Type like a person (input events, debounced by the renderer), then leave the box (a change event)."""
    box = _field(page, path)
    box.fill("")
    box.press_sequentially(text)
    box.blur()


def _step(page: Any, label: str) -> None:
    page.wait_for_selector(f".form-step h2:has-text('{label}')")


def test_fill_and_submit_in_english(page: Any, lead_server: Running, shot: Shot) -> None:
    _open(page, lead_server)
    assert page.locator(".form-preview").get_attribute("dir") == "ltr"
    assert page.get_by_label("First name").get_attribute("id") == "field-firstName"  # labels are bound
    _type(page, "firstName", "Ada")
    _type(page, "lastName", "Lovelace")
    _type(page, "email", "ada@example.org")
    _field(page, "email").press("Enter")  # Enter advances
    _step(page, "Company")
    assert _field(page, "companySize").count() == 0  # hidden until a company is entered
    _type(page, "company", "Analytical Engines")
    _field(page, "companySize").wait_for()
    _type(page, "companySize", "32x")  # not a number: flagged by the renderer, nothing sent
    assert "not a number" in page.inner_text("[id='field-companySize-messages']")
    assert _field(page, "companySize").get_attribute("aria-invalid") == "true"
    _type(page, "companySize", "320")
    page.wait_for_selector("[data-field=companySize]:not(.invalid)")
    _field(page, "source").select_option("referral")
    follow_up = _field(page, "nextFollowUp")
    assert follow_up.input_value() == "2026-11-05"  # proposed by the engine's calculation on load
    page.get_by_role("button", name="Next").click()
    _step(page, "Review")
    assert "null" not in page.inner_text(".form-step")
    summary = page.locator(".summary").inner_text()
    assert "Analytical Engines" in summary and "Referral" in summary and "Nov 5, 2026" in summary
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector(".submitted")
    assert re.search(r"Record Lead/id-\d+ stored, pinned to LeadLifecycle@1.0.0", page.inner_text(".submitted"))
    page.wait_for_function("() => document.getElementById('announcer').textContent.includes('stored')")
    shot(page, "form-en-submitted")
    assert lead_server.sandbox is not None
    with lead_server.store() as store:
        assert store.list_drafts("default") == []


def test_fill_and_submit_in_arabic_right_to_left(page: Any, lead_copy: Running, shot: Shot) -> None:
    page.goto(lead_copy.url + "#/LeadLifecycle")
    page.wait_for_selector("#switch-locale")
    page.select_option("#switch-locale", "ar")
    page.wait_for_selector(".form-preview[dir=rtl]")
    assert page.locator(".form-preview").get_attribute("lang") == "ar"
    _step(page, "البيانات الشخصية")
    _type(page, "firstName", "Ada")
    _type(page, "lastName", "Lovelace")
    _type(page, "phone", "+49 30 1234567")
    assert _field(page, "phone").evaluate("e => e.matches(':dir(ltr)')")  # typed digits are not reordered
    assert _field(page, "firstName").evaluate("e => e.matches(':dir(ltr)')")  # Latin text too (dir=auto)
    page.get_by_role("button", name="Next").click()
    _step(page, "بيانات الشركة")
    box = _field(page, "company").bounding_box()
    assert box is not None and box["x"] > 500  # the first column starts on the right
    page.get_by_role("button", name="Next").click()
    _step(page, "المراجعة")
    # A value with no strong direction of its own (a phone number) reads as typed, not reordered by the RTL page.
    phone = page.locator("dl.summary dd", has_text="1234567")
    reads_left_to_right = """e => {
        const text = [...e.querySelectorAll('*'), e].map((n) => n.firstChild).find((c) => c && c.nodeType === 3);
        const range = document.createRange();
        range.setStart(text, 0); range.setEnd(text, 1);
        const first = range.getBoundingClientRect().x;
        range.setStart(text, text.length - 1); range.setEnd(text, text.length);
        return first < range.getBoundingClientRect().x;
    }"""
    assert phone.evaluate(reads_left_to_right)
    shot(page, "form-ar-review")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector(".submitted")
    shot(page, "form-ar-submitted")


def test_a_soft_warning_while_typing_and_the_hard_error_report_at_submit(
    page: Any, lead_server: Running, shot: Shot
) -> None:
    _open(page, lead_server)
    _type(page, "email", "not-an-address")
    _field(page, "email").press("Enter")
    _step(page, "Company")
    _type(page, "company", "ACME")
    revenue = _field(page, "annualRevenue")
    revenue.wait_for()
    revenue.press_sequentially("200000000000")  # no blur: the warning comes while typing
    warning = page.locator("[data-field=annualRevenue] .message.warning")
    warning.wait_for()
    assert "unusually high" in warning.inner_text()
    assert revenue.get_attribute("aria-invalid") is None  # a warning does not make the value invalid
    described = (revenue.get_attribute("aria-describedby") or "").split()
    assert "field-annualRevenue-messages" in described
    shot(page, "form-soft-warning")
    revenue.fill("1000")
    revenue.blur()
    page.wait_for_function("() => !document.querySelector('[data-field=annualRevenue] .message.warning')")
    page.get_by_role("button", name="Submit").click()
    report = page.locator("#form-report")
    report.wait_for()
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'form-report'")
    text = report.inner_text()
    assert "Submit refused: 3 problems" in text and "First name" in text and "Last name" in text and "E-mail" in text
    shot(page, "form-hard-errors")
    page.get_by_role("button", name="Back").click()
    _step(page, "Personal details")
    email = _field(page, "email")
    assert email.get_attribute("aria-invalid") == "true"
    assert "field-email-messages" in (email.get_attribute("aria-describedby") or "")
    assert "e-mail address" in page.inner_text("#field-email-messages")


def test_quit_and_resume_the_draft_in_a_new_page(browser: Any, lead_server: Running, shot: Shot) -> None:
    first = browser.new_context().new_page()
    _open(first, lead_server)
    _type(first, "firstName", "Grace")
    _type(first, "email", "grace@example.org")
    _field(first, "email").press("Enter")
    _step(first, "Company")
    _type(first, "company", "Navy")
    session = first.evaluate("() => location.hash").rsplit("/", 1)[-1]
    first.wait_for_timeout(300)
    first.context.close()  # quit: every event was saved as it happened

    second = browser.new_context().new_page()
    _open(second, lead_server)
    resume = second.get_by_role("button", name=f"Resume draft {session}")
    resume.click()
    _step(second, "Company")
    assert _field(second, "company").input_value() == "Navy"
    assert second.evaluate("() => location.hash").endswith(session)
    second.get_by_role("button", name="Back").click()
    _step(second, "Personal details")
    assert _field(second, "firstName").input_value() == "Grace"
    shot(second, "form-resumed-draft")
    second.context.close()


def test_switching_role_and_locale_carries_the_values(page: Any, lead_server: Running, shot: Shot) -> None:
    _open(page, lead_server)
    _type(page, "firstName", "Ada")
    _type(page, "email", "ada@example.org")
    page.select_option("#switch-locale", "de")
    _step(page, "Persönliche Angaben")
    assert _field(page, "firstName").input_value() == "Ada"
    assert page.get_by_label("Vorname").count() == 1
    page.select_option("#switch-role", "marketing")
    page.wait_for_function("() => document.getElementById('announcer').textContent.includes('marketing')")
    assert _field(page, "email").input_value() == "ada@example.org"
    page.get_by_role("button", name="Next").click()
    _step(page, "Firma")
    assert _field(page, "owner").count() == 0  # hidden from marketing
    shot(page, "form-switched-role-locale")


def test_a_reload_of_the_package_remounts_the_form_with_the_values(page: Any, lead_copy: Running, shot: Shot) -> None:
    _open(page, lead_copy)
    _type(page, "firstName", "Ada")
    _type(page, "lastName", "Lovel")
    assert lead_copy.sandbox is not None
    english = lead_copy.sandbox.served["LeadLifecycle"].path / "localization" / "en.yaml"
    english.write_text(english.read_text().replace("Lead.firstName: First name", "Lead.firstName: Given name"))
    assert lead_copy.sandbox.reload() == ["LeadLifecycle"]
    page.evaluate("() => dispatchEvent(new CustomEvent('crmctl:reload', {detail: {package: 'Other'}}))")
    page.evaluate("() => dispatchEvent(new CustomEvent('crmctl:reload', {detail: {package: 'LeadLifecycle'}}))")
    page.get_by_label("Given name").wait_for()
    assert _field(page, "firstName").input_value() == "Ada"
    assert _field(page, "lastName").input_value() == "Lovel"
    with lead_copy.store() as store:
        assert store.list_drafts("default")[0].data["lastName"] == "Lovel"
    shot(page, "form-reloaded")
