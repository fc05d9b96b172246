"""How good a model is, and what would make it better: metrics on a split, the human-vs-model challenge,
learning curves and the collection advisor.
"""
