"""Generation: LLM backends, prompts, citations and grounding checks (to come)."""
