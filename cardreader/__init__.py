"""Qualification at the counter (docs/domain.md §8): the reader side that talks to a My
Number card over PC/SC (pyscard), the portal endpoint that confirms the patient's insurance
qualification for a facility's device account, the insured-person registry, and the counting
of each confirmation into the facility's monthly statistics."""
