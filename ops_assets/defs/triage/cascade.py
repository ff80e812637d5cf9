"""Which stage sorts a mail, cheapest first: code rules, then the classifier when it is sure,
then the model, then the owner.

- **rules** (`rules.no_action_rule`): auto-replies, bounces, lists, own mail, rule spam (a
  mail a rule stops is "other" unless it is rule spam or the classifier is sure it is spam).
- **classifier** (`classifier.py`): decides alone when its calibrated confidence reaches
  CONFIDENT and code reads nothing risky in the mail.
- **model**: when the classifier is unsure, or when code reads money, a bank change or a request
  for secrets (`governance.holds.rules_reading`): there the two must agree.
- **owner**: when they disagree on such a mail, or the model gave no answer where it had to.

`decide` is pure: it takes the classifier's and (when asked for) the model's answers and says
which stage decided, with what confidence. `cascade` runs it for a batch with the two stages
passed in as functions, so the triage asset needs one call: the model is asked only for the
mails that need it, in one batch.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ops_assets.defs.triage.classifier import item_text
from ops_assets.defs.triage.contract import Category
from ops_assets.defs.triage.rules import no_action_rule

# The calibrated probability from which the classifier decides alone. benchmarks/triage.py
# chose it on MiniLM: at 0.55 the rules and the classifier decide half the evaluation mail and
# are right on 95% of it; at 0.6, 44% at 96%.
CONFIDENT = 0.55

Stage = Literal["rules", "classifier", "model", "owner"]
# What a rule's reason code means for the category (anything else a rule stops is "other").
RULE_CATEGORY: dict[str, Category] = {"spam_rule": "spam", "spoofed_own_address": "spam"}


@dataclass(frozen=True)
class Decision:
    stage: Stage
    """The stage that decided; "model" with needs_model set means it has not been asked yet."""
    category: Category | None
    """None when the owner decides (or the model is still to be asked)."""
    confidence: float | None
    """1.0 for a rule, the calibrated probability for the classifier (also when the model
    agreed with it), None where the model alone decided or nobody did."""
    reason: str
    rule: str | None = None
    """The rule's reason code, when a rule decided."""
    classified: tuple[Category, float] | None = None
    modelled: Category | None = None
    risky: frozenset[str] = frozenset()
    """What code read in the mail that makes the model's agreement necessary."""
    needs_model: bool = False


def risky_reading(item: dict[str, Any]) -> frozenset[str]:
    """Money, a bank change or a request for secrets, as the governance code reads them."""
    from ops_assets.governance.holds import rules_reading

    return frozenset(rules_reading(item))


def decide(
    item: dict[str, Any],
    *,
    owner_addresses: list[str],
    classified: tuple[Category, float] | None,
    modelled: Category | None = None,
    model_asked: bool = False,
) -> Decision:
    """The cascade for one item. Call it without the model first; when the decision says
    `needs_model`, ask the model and call again with `modelled` and `model_asked=True`
    (`modelled=None` then means the model gave no usable answer)."""
    rule = no_action_rule(item, owner_addresses)
    if rule is not None:
        code, reason = rule
        category = RULE_CATEGORY.get(code, "other")
        # A rule says no answer is due; what the mail is may still be spam (phishing sent
        # from a no-reply address reads as a bounce to the rules).
        if classified is not None and classified[0] == "spam" and classified[1] >= CONFIDENT:
            category, reason = "spam", f"{reason}; classifier reads spam ({classified[1]:.2f})"
        return Decision("rules", category, 1.0, reason, rule=code, classified=classified)
    risky = risky_reading(item)
    sure = classified is not None and classified[1] >= CONFIDENT
    if classified is not None and sure and not risky:
        category, confidence = classified
        return Decision(
            "classifier",
            category,
            confidence,
            f"classifier {confidence:.2f} >= {CONFIDENT}",
            classified=classified,
        )
    why = f"code reads {', '.join(sorted(risky))}" if risky else "classifier unsure"
    if not model_asked:
        return Decision(
            "model", None, None, why, classified=classified, risky=risky, needs_model=True
        )
    if modelled is None:
        return Decision(
            "owner",
            None,
            None,
            f"{why}; the model gave no answer",
            classified=classified,
            risky=risky,
        )
    if not risky or classified is None:
        # No classifier (a home before its first training, an embedder down): the model's
        # reading is the only one, and the gate's code checks still stand behind it.
        return Decision(
            "model", modelled, None, why, classified=classified, modelled=modelled, risky=risky
        )
    if classified is not None and classified[0] == modelled:
        return Decision(
            "model",
            modelled,
            classified[1],
            f"{why}; classifier and model agree",
            classified=classified,
            modelled=modelled,
            risky=risky,
        )
    said = classified[0] if classified is not None else "nothing"
    return Decision(
        "owner",
        None,
        None,
        f"{why}; classifier said {said}, model said {modelled}",
        classified=classified,
        modelled=modelled,
        risky=risky,
    )


def cascade(
    items: Sequence[dict[str, Any]],
    *,
    owner_addresses: list[str],
    classify: Callable[[list[str]], list[tuple[Category, float]]] | None,
    ask_model: Callable[[list[dict[str, Any]]], list[Category | None]],
) -> list[Decision]:
    """Decisions for a batch, in order. `classify` maps texts to (category, confidence)
    (None: no trained classifier yet, every mail goes on to the model); `ask_model` maps the
    items that need it to the model's category each (None where it gave no answer)."""
    # Every mail is classified, those a rule stops too: the rule decides that no answer is
    # due, the classifier may still tell spam from an ordinary auto-reply.
    texts = [item_text(item) for item in items]
    answers: list[tuple[Category, float] | None] = (
        list(classify(texts)) if classify is not None and texts else [None] * len(items)
    )
    first = [
        decide(item, owner_addresses=owner_addresses, classified=answer)
        for item, answer in zip(items, answers, strict=True)
    ]
    pending = [n for n, d in enumerate(first) if d.needs_model]
    modelled = ask_model([items[n] for n in pending]) if pending else []
    final = list(first)
    for n, answer in zip(pending, modelled, strict=True):
        final[n] = decide(
            items[n],
            owner_addresses=owner_addresses,
            classified=first[n].classified,
            modelled=answer,
            model_asked=True,
        )
    return final
