"""The scoring-scheme form: the same JSON the API takes, typed in rows (points with at most two decimals,
checked by the one parser in evaluation.scheme)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, FormField, SelectField, StringField
from wtforms.validators import Length, Optional

from core.forms import options

PART_CHOICES = [
    ("qualification", _l("Qualification")),
    ("technical", _l("Technical part")),
    ("commercial", _l("Commercial part")),
]
KIND_CHOICES = [
    ("pass_fail", _l("Pass/fail")),
    ("subjective", _l("Subjective")),
    ("objective", _l("Objective")),
]
EXTRA_ROWS = 5


class CriterionForm(FlaskForm):
    class Meta:
        csrf = False

    key = StringField(_l("Item code"), validators=[Optional(), Length(max=20)])
    name = StringField(_l("Criterion"), validators=[Optional(), Length(max=200)])
    part = SelectField(_l("Part"), choices=options(PART_CHOICES), default="technical")
    kind = SelectField(_l("Kind"), choices=options(KIND_CHOICES), default="subjective")
    min_points = StringField(_l("Min points"), validators=[Optional(), Length(max=12)])
    max_points = StringField(_l("Max points"), validators=[Optional(), Length(max=12)])
    blind = BooleanField(_l("Blind review"))
    guidance = StringField(_l("Scoring guidance"), validators=[Optional(), Length(max=2000)])


class SchemeForm(FlaskForm):
    method = SelectField(
        _l("Scoring method"),
        choices=options(
            [("comprehensive", _l("Comprehensive scoring")), ("lowest_price", _l("Lowest-price method"))]
        ),
    )
    subject = SelectField(
        _l("Subject (procurement)"),
        choices=options(
            [("", "—"), ("goods", _l("Goods")), ("services", _l("Services")), ("works", _l("Works"))]
        ),
        validators=[Optional()],
    )
    formula = SelectField(
        _l("Price formula"),
        choices=options(
            [
                ("lowest_valid", _l("Lowest valid price / bid price x price points")),
                ("average_benchmark", _l("Average-price benchmark with a drawn coefficient (works)")),
            ]
        ),
    )
    price_points = StringField(_l("Price points"), validators=[Optional(), Length(max=12)])
    coefficients = StringField(
        _l("Coefficients to draw from, e.g. 0.95, 0.96, 0.97"), validators=[Optional()]
    )
    above_per_percent = StringField(_l("Points off per percent above the benchmark"), validators=[Optional()])
    below_per_percent = StringField(_l("Points off per percent below the benchmark"), validators=[Optional()])
    criteria = FieldList(FormField(CriterionForm), min_entries=EXTRA_ROWS, max_entries=200)

    def fill(self, definition: dict) -> None:
        """Prefill from a stored (canonical) scheme, with blank rows to add criteria."""
        self.method.data = definition["method"]
        self.subject.data = definition.get("subject") or ""
        price = definition.get("price") or {}
        self.formula.data = price.get("formula", "lowest_valid")
        self.price_points.data = price.get("points", "")
        self.coefficients.data = ", ".join(price.get("coefficients", []))
        self.above_per_percent.data = price.get("above_per_percent", "")
        self.below_per_percent.data = price.get("below_per_percent", "")
        while len(self.criteria):
            self.criteria.pop_entry()
        for item in definition["criteria"]:
            self.criteria.append_entry(
                {
                    "key": item["key"],
                    "name": item["name"],
                    "part": item["part"],
                    "kind": item["kind"],
                    "min_points": item.get("min_points", ""),
                    "max_points": item.get("max_points", ""),
                    "blind": item["blind"],
                    "guidance": item.get("guidance", ""),
                }
            )
        for _ in range(EXTRA_ROWS):
            self.criteria.append_entry()

    def to_data(self) -> dict:
        criteria = []
        for row in self.criteria:
            form = row.form
            if not (form.key.data or "").strip() and not (form.name.data or "").strip():
                continue  # a blank row
            item = {
                "key": form.key.data,
                "name": form.name.data,
                "part": form.part.data,
                "kind": form.kind.data,
            }
            if form.kind.data != "pass_fail":
                item["min_points"] = form.min_points.data or "0"
                item["max_points"] = form.max_points.data or ""
            if form.blind.data:
                item["blind"] = True
            if (form.guidance.data or "").strip():
                item["guidance"] = form.guidance.data.strip()
            criteria.append(item)
        data: dict = {"method": self.method.data, "criteria": criteria}
        if self.subject.data:
            data["subject"] = self.subject.data
        if self.method.data == "comprehensive":
            price: dict = {"formula": self.formula.data, "points": self.price_points.data or ""}
            if self.formula.data == "average_benchmark":
                price["coefficients"] = [
                    c.strip() for c in (self.coefficients.data or "").split(",") if c.strip()
                ]
                price["above_per_percent"] = self.above_per_percent.data or ""
                price["below_per_percent"] = self.below_per_percent.data or "0"
            data["price"] = price
        return data
