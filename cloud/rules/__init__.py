"""Fault rules: the condition language, rule files, and the engine that evaluates them."""

from cloud.rules.engine import RuleEngine, Transition
from cloud.rules.loader import load_rules
from cloud.rules.model import Rule

__all__ = ["Rule", "RuleEngine", "Transition", "load_rules"]
