"""The version of the engine's arithmetic, recorded with every result it computes."""

#: Version of the engine's arithmetic: bump it with any change that can move a trained number (the update
#: rule, a loss's coefficients or gradient, the order of floating-point operations, the evaluation). Each
#: task file and config.json record it; a run refuses to add tasks computed by another version, so two
#: engines never mix in one run. tests/test_trust.py holds a digest of a small run's numbers per version:
#: a change that moves them without a bump fails there.
NUMERICS_VERSION = 1
