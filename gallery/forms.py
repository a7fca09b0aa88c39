"""The gallery's filter form: unknown values are dropped with a notice, never an error page."""

from django import forms

from .imaging import COLOR_FAMILIES
from .models import Avatar
from .selectors import ORIENTATIONS, SORTS, AvatarFilters

GENDERS = ("female", "male")
AGE_GROUPS = ("infant", "child", "young-adult", "adult", "elderly")


def _choices(values: tuple[str, ...], blank: str = "Any") -> list[tuple[str, str]]:
    return [("", blank), *((v, v.replace("-", " ").capitalize()) for v in values)]


class AvatarFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    source = forms.ChoiceField(required=False, choices=[("", "Any")])
    gender = forms.ChoiceField(required=False, choices=_choices(GENDERS))
    age_group = forms.ChoiceField(required=False, choices=_choices(AGE_GROUPS), label="Age")
    style = forms.ChoiceField(required=False, choices=[("", "Any"), *Avatar.Style.choices])
    color = forms.ChoiceField(required=False, choices=_choices(COLOR_FAMILIES), label="Main colour")
    orientation = forms.ChoiceField(required=False, choices=_choices(ORIENTATIONS), label="Original")
    sort = forms.ChoiceField(required=False, choices=[(key, key.capitalize()) for key in SORTS])

    def __init__(self, *args, sources: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [("", "Any"), *sources]

    def offer(self, facets: dict[str, dict[str, int]]) -> None:
        """Show each filter's values that have avatars, with how many (the chosen one always, even at 0).
        Validation still accepts every known value: a link to an empty filter shows "no avatar", not an error."""
        chosen = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        for name, counts in facets.items():
            field = self.fields[name]
            current = chosen.get(name) or ""
            offered = [("", "Any")]
            for value, label in field.choices:
                if value and (counts.get(value) or value == current):
                    offered.append((value, f"{label} ({counts.get(value, 0):,})"))
            field.widget.choices = offered

    def to_filters(self) -> tuple[AvatarFilters, list[str]]:
        """The valid part of the request as filters, and a notice for each value that was dropped."""
        self.is_valid()
        cleaned = {name: self.cleaned_data.get(name) or "" for name in self.fields if name not in self.errors}
        notices = [f"Ignored {self[name].label}: {' '.join(errors)}" for name, errors in self.errors.items()]
        cleaned["sort"] = cleaned.get("sort") or "newest"
        cleaned["q"] = cleaned.get("q", "").strip()
        return AvatarFilters(**cleaned), notices
