"""Cryptography for SunBid, with no Flask imports so that bidtool and offline verifiers can use it.

Merkle log math, signed notes, the age-format bid envelope, CMS signatures, the platform CA,
Shamir opening-key shares, receipts and verifiable selection all live here.
"""
