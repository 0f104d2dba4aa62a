"""The scoring scheme stored with its tender (one row per tender, replaced while the tender is a draft)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, UtcDateTime


class ScoringScheme(Base):
    """评分办法: ``definition`` is the canonical JSON from evaluation.scheme (criteria, price rule); the
    columns beside it repeat what the database itself should hold true of every scheme."""

    __tablename__ = "scoring_schemes"
    __table_args__ = (
        CheckConstraint("method IN ('comprehensive', 'lowest_price')", name="method"),
        CheckConstraint("subject IN ('goods', 'services', 'works')", name="subject"),
        CheckConstraint(
            "(method = 'lowest_price' AND price_formula = 'none' AND price_points = 0)"
            " OR (method = 'comprehensive' AND price_formula IN ('lowest_valid', 'average_benchmark')"
            " AND price_points > 0 AND price_points <= 10000)",
            name="price_rule",
        ),
        # R-V2: procurement prices by the lowest valid price, with at least 30 (goods) / 10 (services) points.
        CheckConstraint(
            "NOT (subject = 'goods' AND method = 'comprehensive' AND price_points < 3000)"
            " AND NOT (subject = 'services' AND method = 'comprehensive' AND price_points < 1000)",
            name="price_minimum",
        ),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenders.id", ondelete="CASCADE"), primary_key=True
    )
    method: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(16))
    price_formula: Mapped[str] = mapped_column(String(20))
    price_points: Mapped[int] = mapped_column(Integer)  # hundredths of a point
    definition: Mapped[dict] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
