"""Seeded comparisons of variants: the plan, the queue, where runs train, statistics, verdicts and files."""
