"""The mean-field-type game solver: pure numpy, no I/O.

`solver` (backward DP, forward Fokker–Planck, fixed point, exploitability), `energy` (the
community game), `lq` (the Carmona–Fouque–Sun closed form as a test), `robust`
(Byzantine-robust estimates), `finite_n` (the N-player check), `grid`, `synthetic`.
"""
