"""
A criterion's value edited with the contract's own inputs: labels, never codes.

The admin picks a criterion's profile field and operator in two selects and
its value here. Which inputs fit depends on the field, and without
JavaScript a page cannot swap inputs when the field select changes, so the
widget renders, for every field a criterion may test (``contract
.CRITERION_FIELDS``), a labelled fieldset of that field's inputs:

* a choice: a select of its labels for "equals", checkboxes for "is one of"
  and "is not one of";
* a set: checkboxes of its labels;
* a number: a number input with the field's bounds and unit (a second one,
  the high end, for "is between");
* yes/no: two radio buttons.

Only the fieldset of the chosen field is read (``value_from_datadict``), so
without JavaScript the page is a labelled list of every field's inputs; with
it, ``programs/admin/criterion-value.js`` (a static file: the CSP allows no
inline script) shows only the chosen field's and operator's inputs. A POST
that carries the value itself as text ("africa, east_asia", "10, 20",
"yes"; a script, or an older page) is still taken as it is. Either way the
value is checked by the rule language (``rules.clean_criterion_value``) and
stored in the form the engine reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from programs.engine import rules
from programs.engine.contract import (
    CRITERION_FIELDS,
    FIELDS,
    FieldKind,
    FieldSpec,
    with_unit,
)
from programs.engine.text import list_separator

#: The operators that take one choice; the other choice operators take several.
ONE_CHOICE = ("equals",)
SEVERAL_CHOICES = ("one_of", "not_one_of")
RANGE = ("between",)


def value_items(value: Any) -> list[str]:
    """Return a value, stored or typed, as a list of its parts as text."""
    if value is None or value == "":
        return []
    if isinstance(value, bool):
        return ["yes" if value else "no"]
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v).strip() for v in value]
    return [part.strip() for part in str(value).split(",")]


def _getlist(data: Mapping[str, Any], key: str) -> list[str]:
    if hasattr(data, "getlist"):
        return [str(v) for v in data.getlist(key)]
    value = data.get(key)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


class CriterionValueWidget(forms.Widget):
    """Every criterion field's inputs, the chosen field's filled in (see above)."""

    #: The criterion's field and operator as the form stands (set by the form).
    field_name: str | None = None
    operator_name: str | None = None

    class Media:
        js = ["programs/admin/criterion-value.js"]

    @staticmethod
    def sibling(name: str, part: str) -> str:
        """Return the name of the criterion's other input: "criteria-0-field"."""
        return name.removesuffix("value") + part

    def value_from_datadict(
        self, data: Mapping[str, Any], files: Any, name: str
    ) -> Any:
        if name in data:  # the value as text
            return data.get(name)
        field = data.get(self.sibling(name, "field"))
        operator = data.get(self.sibling(name, "operator"))
        if field not in FIELDS:
            return ""
        spec, key = FIELDS[field], f"{name}__{field}"
        if spec.kind is FieldKind.CHOICE and operator in ONE_CHOICE:
            return data.get(f"{key}__one") or ""
        if spec.kind in (FieldKind.CHOICE, FieldKind.MULTI):
            return _getlist(data, key)
        if spec.kind in (FieldKind.INTEGER, FieldKind.DECIMAL):
            low = str(data.get(key) or "").strip()
            if operator not in RANGE:
                return low
            high = str(data.get(f"{key}__high") or "").strip()
            return [low, high] if low or high else ""
        return data.get(key) or ""

    def value_omitted_from_data(
        self, data: Mapping[str, Any], files: Any, name: str
    ) -> bool:
        return False

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        items = value_items(value)
        return format_html(
            '<div class="criterion-value" data-criterion-value>{}</div>',
            format_html_join(
                "",
                "{}",
                (
                    (
                        self.render_field(
                            name,
                            FIELDS[field],
                            items if field == self.field_name else [],
                        ),
                    )
                    for field in CRITERION_FIELDS
                ),
            ),
        )

    def render_field(self, name: str, spec: FieldSpec, items: list[str]) -> SafeString:
        """Return one field's inputs in a fieldset named by the field's label."""
        key = f"{name}__{spec.name}"
        inputs: str
        if spec.kind is FieldKind.CHOICE:
            inputs = format_html(
                "{}{}",
                self.part(
                    ONE_CHOICE,
                    format_html(
                        '<select name="{}__one"><option value="">---------</option>'
                        "{}</select>",
                        key,
                        options(spec, items[0] if len(items) == 1 else ""),
                    ),
                ),
                self.part(SEVERAL_CHOICES, checkboxes(key, spec, items)),
            )
        elif spec.kind is FieldKind.MULTI:
            inputs = checkboxes(key, spec, items)
        elif spec.kind is FieldKind.BOOLEAN:
            inputs = format_html_join(
                " ",
                '<label><input type="radio" name="{}" value="{}"{}> {}</label>',
                (
                    (key, code, " checked" if items == [code] else "", label)
                    for code, label in (("yes", gettext("yes")), ("no", gettext("no")))
                ),
            )
        else:
            inputs = format_html(
                "{} {}{}",
                number_input(key, spec, items[0] if items else ""),
                unit_of(spec),
                self.part(
                    RANGE,
                    format_html(
                        " {} {} {}",
                        pgettext("between the two ends of a range", "to"),
                        number_input(
                            f"{key}__high", spec, items[1] if len(items) > 1 else ""
                        ),
                        unit_of(spec),
                    ),
                    inline=True,
                ),
            )
        return format_html(
            '<fieldset class="criterion-value-field" data-field="{}">'
            "<legend>{}</legend>{}{}</fieldset>",
            spec.name,
            gettext("Value for “%(field)s”") % {"field": spec.label},
            inputs,
            bounds_text(spec),
        )

    @staticmethod
    def part(operators: tuple[str, ...], inputs: str, *, inline: bool = False) -> str:
        """Return inputs that apply to some operators only, captioned with them."""
        labels = [str(rules.operator(op).label) for op in operators]
        tag = "span" if inline else "div"
        return format_html(
            '<{} data-operators="{}"><span class="quiet">{}</span> {}</{}>',
            tag,
            " ".join(operators),
            gettext("(with %(operators)s)")
            % {"operators": list_separator().join(f"“{label}”" for label in labels)},
            inputs,
            tag,
        )


def options(spec: FieldSpec, selected: str) -> str:
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (code, " selected" if code == selected else "", label)
            for code, label in spec.choices
        ),
    )


def checkboxes(key: str, spec: FieldSpec, items: list[str]) -> str:
    chosen = set(items)
    return format_html(
        '<ul class="criterion-value-choices">{}</ul>',
        format_html_join(
            "",
            '<li><label><input type="checkbox" name="{}" value="{}"{}> {}</label></li>',
            (
                (key, code, " checked" if code in chosen else "", label)
                for code, label in spec.choices
            ),
        ),
    )


def number_input(key: str, spec: FieldSpec, value: str) -> str:
    return format_html(
        '<input type="number" name="{}" value="{}" step="{}"{}{}>',
        key,
        value,
        "1" if spec.kind is FieldKind.INTEGER else "any",
        format_html(' min="{}"', spec.minimum) if spec.minimum is not None else "",
        format_html(' max="{}"', spec.maximum) if spec.maximum is not None else "",
    )


def unit_of(spec: FieldSpec) -> str:
    """Return the field's unit alone: "people", "CNY", "%", "人", "元"."""
    if spec.unit is None:
        return ""
    return str(spec.unit % {"count": 2, "number": ""}).strip()


def bounds_text(spec: FieldSpec) -> str:
    if spec.minimum is None or spec.maximum is None:
        return ""
    return format_html(
        '<p class="help">{}</p>',
        gettext("From %(min)s to %(max)s.")
        % {
            "min": with_unit(spec.name, spec.minimum),
            "max": with_unit(spec.name, spec.maximum),
        },
    )


class CriterionValueField(forms.Field):
    """A criterion's value as the widget or a typed text gives it: text or a list."""

    widget = CriterionValueWidget

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("value"))
        kwargs.setdefault(
            "help_text", _("The values offered are those of the chosen profile field.")
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [str(v).strip() for v in value]
        return "" if value is None else str(value).strip()

    def bind(self, field_name: str | None, operator_name: str | None) -> None:
        """Tell the widget the criterion's field and operator as the form stands."""
        assert isinstance(self.widget, CriterionValueWidget)
        self.widget.field_name = field_name
        self.widget.operator_name = operator_name
