"""The generate form: what a signed-in user asks for."""

from django import forms

from .services import STYLES

STYLE_LABELS = {
    "photo": "Photo (AI, FLUX)",
    "flat": "Flat illustration (instant)",
    "pastel": "Pastel (instant)",
    "neon": "Neon (instant)",
    "mono": "Mono (instant)",
}


class GenerateForm(forms.Form):
    prompt = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3, "placeholder": "A smiling woman with curly red hair and round glasses"})
    )
    style = forms.ChoiceField(choices=[(style, STYLE_LABELS.get(style, style)) for style in STYLES], initial="photo")
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1, help_text="Leave empty for a new one each time.")
