from __future__ import annotations

from django import forms

from .models import Project, Task


class ProjectForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Project
        fields = ["name", "description"]


class TaskForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Task
        fields = ["title", "due_date", "labels"]
        widgets = {"due_date": forms.DateInput(attrs={"type": "date"})}
