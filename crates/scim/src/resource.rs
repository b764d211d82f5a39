//! Resources validated and normalised against their schema: canonical attribute names, checked types, readOnly attributes dropped, required attributes enforced.
