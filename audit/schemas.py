"""What the audit API takes and answers (core/schemas.py says how these are used)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from core.schemas import Id, Out, PageQuery, Query, Text

# Leaf indexes and tree sizes: far beyond any log, within a database integer.
TreeSize = Annotated[int, Field(ge=0, le=2**62)]


class EntriesQuery(PageQuery):
    actor: Id | None = Field(None, description="user id")
    action: Text[100] | None = Field(None, description="an action or a prefix such as accounts.")
    target_type: Text[64] | None = None
    target_id: Text[100] | None = None
    since: Text[40] | None = Field(
        None, alias="from", description="ISO 8601; without an offset: Beijing time"
    )
    until: Text[40] | None = Field(None, alias="to", description="ISO 8601, exclusive")


class InclusionQuery(Query):
    index: TreeSize
    size: TreeSize


class ConsistencyQuery(Query):
    old: TreeSize = Field(alias="from")
    new: TreeSize = Field(alias="to")


class EntryProofQuery(Query):
    index: TreeSize


class CosignedOut(Out):
    size: int
    checkpoint: str


class CheckpointOut(Out):
    """The latest signed checkpoint, and the latest one the witness cosigned."""

    size: int
    checkpoint: str
    verifier_key: str
    cosigned: CosignedOut | None = None
    witness_keys: list[str] = []


class LogProofOut(Out):
    """An entry's log proof (crypto.logproof), null until the witness has cosigned a checkpoint."""

    index: int
    proof: dict | None


class ProofOut(Out):
    """The proof: base64 hashes."""

    proof: list[str]
