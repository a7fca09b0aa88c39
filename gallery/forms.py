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
    color = forms.ChoiceField(required=False, choices=_choices(COLOR_FAMILIES), label="Background")
    orientation = forms.ChoiceField(required=False, choices=_choices(ORIENTATIONS), label="Original")
    sort = forms.ChoiceField(required=False, choices=[(key, key.capitalize()) for key in SORTS])

    def __init__(self, *args, sources: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [("", "Any"), *sources]

    def to_filters(self) -> tuple[AvatarFilters, list[str]]:
        """The valid part of the request as filters, and a notice for each value that was dropped."""
        self.is_valid()
        cleaned = {name: self.cleaned_data.get(name) or "" for name in self.fields if name not in self.errors}
        notices = [f"Ignored {self[name].label}: {' '.join(errors)}" for name, errors in self.errors.items()]
        cleaned["sort"] = cleaned.get("sort") or "newest"
        cleaned["q"] = cleaned.get("q", "").strip()
        return AvatarFilters(**cleaned), notices
