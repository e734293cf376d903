"""The 協力金・一時金 pages keep no tables of their own: reports and attestations live in
`eligibility` (the rules read them), bank accounts in `payouts` (which pays)."""
