"""crmctl's built-in messages: the texts the runtime shows for its own checks, in every language it ships.

Forms and records use the same keys (`crmctl.required`, `crmctl.notOffered`, ...); `runtime.l10n.Localizer.message`
looks them up after the package's own localization (see docs/runtime.md, "Built-in messages", for the order and
how a package overrides them). A text is a template with `{name}` placeholders, or, for a message about a count,
its CLDR plural forms (`PLURAL_COUNTS` names the parameter that holds the count): English and German have `one`
and `other`, French `one` (0 and 1), `many` (whole millions: "1 000 000 de caractères") and `other`, Hebrew
`one`, `two` and `other`, Arabic all six categories.
Every language has every key (a test checks it); English is the last resort.

Parameters: `value` and `values` (the value given and the values offered, joined with ", ") for notOffered;
`detail` for ruleError and type; `rule` for guardFailed; `entity` and `name` for unknownField; `max` for
maxLength and maxItems; `field` (the field's label) is there for every finding about a field.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["BUILTIN", "LANGUAGES", "PLURAL_COUNTS", "Template"]

Template = str | Mapping[str, str]  # a text, or plural category → text

PLURAL_COUNTS = {"crmctl.maxLength": "max", "crmctl.maxItems": "max"}

BUILTIN: dict[str, dict[str, Template]] = {
    "en": {
        "crmctl.required": "This field is required.",
        "crmctl.notOffered": "“{value}” is not offered here; choose one of: {values}.",
        "crmctl.ruleError": "A rule could not be evaluated: {detail}",
        "crmctl.lastStep": "This is the last step; submit the form.",
        "crmctl.firstStep": "This is the first step.",
        "crmctl.notReached": "That step has not been reached yet.",
        "crmctl.stepHidden": "That step is not available.",
        "crmctl.guardFailed": "The rule {rule} does not allow this.",
        "crmctl.submitted": "The form was submitted already.",
        "crmctl.unknownField": "{entity} has no field {name}.",
        "crmctl.calculatedInput": "This field is calculated; it is never entered.",
        "crmctl.type": "{detail}",
        "crmctl.maxLength": {"one": "At most {max} character.", "other": "At most {max} characters."},
        "crmctl.maxItems": {"one": "At most {max} item.", "other": "At most {max} items."},
    },
    "de": {
        "crmctl.required": "Dieses Feld ist erforderlich.",
        "crmctl.notOffered": "„{value}“ wird hier nicht angeboten; zur Auswahl stehen: {values}.",
        "crmctl.ruleError": "Eine Regel konnte nicht ausgewertet werden: {detail}",
        "crmctl.lastStep": "Dies ist der letzte Schritt; bitte absenden.",
        "crmctl.firstStep": "Dies ist der erste Schritt.",
        "crmctl.notReached": "Dieser Schritt wurde noch nicht erreicht.",
        "crmctl.stepHidden": "Dieser Schritt ist nicht verfügbar.",
        "crmctl.guardFailed": "Die Regel {rule} erlaubt das nicht.",
        "crmctl.submitted": "Das Formular wurde bereits abgesendet.",
        "crmctl.unknownField": "{entity} hat kein Feld {name}.",
        "crmctl.calculatedInput": "Dieses Feld wird berechnet; es wird nie eingegeben.",
        "crmctl.type": "{detail}",
        "crmctl.maxLength": {"one": "Höchstens {max} Zeichen.", "other": "Höchstens {max} Zeichen."},
        "crmctl.maxItems": {"one": "Höchstens ein Eintrag.", "other": "Höchstens {max} Einträge."},
    },
    "fr": {
        "crmctl.required": "Ce champ est obligatoire.",
        "crmctl.notOffered": "« {value} » n'est pas proposé ici ; choisissez parmi : {values}.",
        "crmctl.ruleError": "Une règle n'a pas pu être évaluée : {detail}",
        "crmctl.lastStep": "C'est la dernière étape ; veuillez soumettre le formulaire.",
        "crmctl.firstStep": "C'est la première étape.",
        "crmctl.notReached": "Cette étape n'a pas encore été atteinte.",
        "crmctl.stepHidden": "Cette étape n'est pas disponible.",
        "crmctl.guardFailed": "La règle {rule} ne le permet pas.",
        "crmctl.submitted": "Le formulaire a déjà été soumis.",
        "crmctl.unknownField": "{entity} n'a pas de champ {name}.",
        "crmctl.calculatedInput": "Ce champ est calculé ; il n'est jamais saisi.",
        "crmctl.type": "{detail}",
        "crmctl.maxLength": {
            "one": "{max} caractère au maximum.",
            "many": "{max} de caractères au maximum.",
            "other": "{max} caractères au maximum.",
        },
        "crmctl.maxItems": {
            "one": "{max} élément au maximum.",
            "many": "{max} d'éléments au maximum.",
            "other": "{max} éléments au maximum.",
        },
    },
    "ar": {
        "crmctl.required": "هذا الحقل مطلوب.",
        "crmctl.notOffered": "القيمة «{value}» غير متاحة هنا؛ اختر إحدى القيم: {values}.",
        "crmctl.ruleError": "تعذّر تقييم قاعدة: {detail}",
        "crmctl.lastStep": "هذه هي الخطوة الأخيرة؛ يرجى الإرسال.",
        "crmctl.firstStep": "هذه هي الخطوة الأولى.",
        "crmctl.notReached": "لم يتم الوصول إلى هذه الخطوة بعد.",
        "crmctl.stepHidden": "هذه الخطوة غير متاحة.",
        "crmctl.guardFailed": "القاعدة {rule} لا تسمح بذلك.",
        "crmctl.submitted": "تم إرسال النموذج بالفعل.",
        "crmctl.unknownField": "لا يحتوي {entity} على الحقل {name}.",
        "crmctl.calculatedInput": "هذا الحقل محسوب؛ لا يُدخَل يدويًا.",
        "crmctl.type": "{detail}",
        "crmctl.maxLength": {
            "zero": "لا يُسمح بأي حرف.",
            "one": "حرف واحد على الأكثر.",
            "two": "حرفان على الأكثر.",
            "few": "{max} أحرف على الأكثر.",
            "many": "{max} حرفًا على الأكثر.",
            "other": "{max} حرف على الأكثر.",
        },
        "crmctl.maxItems": {
            "zero": "لا يُسمح بأي عنصر.",
            "one": "عنصر واحد على الأكثر.",
            "two": "عنصران على الأكثر.",
            "few": "{max} عناصر على الأكثر.",
            "many": "{max} عنصرًا على الأكثر.",
            "other": "{max} عنصر على الأكثر.",
        },
    },
    "he": {
        "crmctl.required": "זהו שדה חובה.",
        "crmctl.notOffered": "הערך ״{value}״ אינו מוצע כאן; יש לבחור אחד מהערכים: {values}.",
        "crmctl.ruleError": "לא ניתן היה להעריך כלל: {detail}",
        "crmctl.lastStep": "זהו השלב האחרון; יש לשלוח את הטופס.",
        "crmctl.firstStep": "זהו השלב הראשון.",
        "crmctl.notReached": "עדיין לא הגעת לשלב הזה.",
        "crmctl.stepHidden": "השלב הזה אינו זמין.",
        "crmctl.guardFailed": "הכלל {rule} אינו מאפשר זאת.",
        "crmctl.submitted": "הטופס כבר נשלח.",
        "crmctl.unknownField": "ל־{entity} אין שדה {name}.",
        "crmctl.calculatedInput": "זהו שדה מחושב; אין להזין בו ערך.",
        "crmctl.type": "{detail}",
        "crmctl.maxLength": {
            "one": "לכל היותר תו אחד.",
            "two": "לכל היותר שני תווים.",
            "other": "לכל היותר {max} תווים.",
        },
        "crmctl.maxItems": {
            "one": "לכל היותר פריט אחד.",
            "two": "לכל היותר שני פריטים.",
            "other": "לכל היותר {max} פריטים.",
        },
    },
}
LANGUAGES = tuple(BUILTIN)
