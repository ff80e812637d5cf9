"""Which stage sorts a mail, cheapest first: code rules, then the classifier when it is sure,
then the model, then the owner.

- **rules** (`rules.no_action_rule`, `spam_rules.py`): auto-replies, bounces, lists, own
  mail, rule spam (impersonated brands or the owner's own domain, credential phishing, scams,
  bought reach). A mail a rule stops is "other" unless it is rule spam or spam is the
  classifier's likeliest reading (it gets no answer either way).
- **classifier** (`classifier.py`): decides alone when its calibrated confidence reaches
  CONFIDENT and code reads nothing risky in the mail (or only money in mail it is sure is
  spam: spam gets no reply that could commit money).
- **model**: when the classifier is unsure, or when code reads money, a bank change or a request
  for secrets (`governance.holds.rules_reading`). Its answer does not replace the classifier's
  reading, it is weighed against it (`combine`: the classifier's distribution as the prior,
  the model as evidence as good as MODEL_ACCURACY); and it never makes mail spam alone.
- **owner**: when the two disagree on a bank change or a request for secrets, or on whether
  money mail is spam; or the model gave no answer where it had to.

`decide` is pure: it takes the classifier's and (when asked for) the model's answers and says
which stage decided, with what confidence. `cascade` runs it for a batch with the two stages
passed in as functions, so the triage asset needs one call: the model is asked only for the
mails that need it, in one batch.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from ops_assets.defs.triage.classifier import CATEGORIES, item_text
from ops_assets.defs.triage.contract import Category
from ops_assets.defs.triage.rules import no_action_rule

# The calibrated probability from which the classifier decides alone. benchmarks/triage.py
# chose it on MiniLM: at 0.55 the rules and the classifier decide half the evaluation mail and
# are right on 95% of it; at 0.6, 44% at 96%.
CONFIDENT = 0.55

# How often the model's category is taken to be right on mail the classifier is unsure of:
# the weight of its answer against the classifier's distribution. A prior, not a fit: the
# embedded model sorted 8 in 10 plain mails right when it was chosen (shared notes on the local
# model), and the mail the classifier is unsure of is the harder kind.
MODEL_ACCURACY = 0.7

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
    had to agree with it on risky mail, and did), None where the model took part otherwise or
    nobody decided."""
    reason: str
    rule: str | None = None
    """The rule's reason code, when a rule decided."""
    classified: tuple[Category, float] | None = None
    modelled: Category | None = None
    risky: frozenset[str] = frozenset()
    """What code read in the mail that makes the model's agreement necessary."""
    needs_model: bool = False


def risky_reading(item: dict[str, Any]) -> frozenset[str]:
    """Money, a bank change or a request for secrets, as the governance code reads them; but
    "bank_change" only where the mail speaks of changed bank details: the governance reading
    also counts any "$49" or "pay 200 EUR" as moving money (right for holding a reply, too
    eager for calling every priced offer a bank change), and that is money here."""
    from ops_assets.governance.holds import rules_reading
    from ops_assets.governance.injection import injection_flags

    reading = set(rules_reading(item))
    flags = set(item.get("flags") or []) | set(
        injection_flags(item.get("subject"), item.get("body"), item.get("sender"))
    )
    if "bank_change" in reading and "bank_details_change" not in flags:
        reading.discard("bank_change")
        reading.add("money")
    return frozenset(reading)


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
        # from a no-reply address reads as a bounce to the rules). No answer either way, so
        # the classifier's likeliest reading is enough to call it spam; no confidence bar.
        if classified is not None and classified[0] == "spam":
            category, reason = "spam", f"{reason}; classifier reads spam ({classified[1]:.2f})"
        return Decision("rules", category, 1.0, reason, rule=code, classified=classified)
    risky = risky_reading(item)
    sure = classified is not None and classified[1] >= CONFIDENT
    # Money needs two readings because a reply about money commits the owner; mail the
    # classifier is sure is spam gets no reply, so a priced offer in it is no reason to ask.
    spam_with_money = classified is not None and classified[0] == "spam" and risky <= {"money"}
    if classified is not None and sure and (not risky or spam_with_money):
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
    if classified is None:
        # No classifier (a home before its first training, an embedder down): the model's
        # reading is the only one, and the gate's code checks still stand behind it.
        return Decision(
            "model", modelled, None, why, classified=classified, modelled=modelled, risky=risky
        )
    combined, _, note = combine(classified, modelled)
    if risky and modelled != classified[0] and _risky_disagreement(risky, classified, modelled):
        return Decision(
            "owner",
            None,
            None,
            f"{why}; classifier said {classified[0]}, model said {modelled}",
            classified=classified,
            modelled=modelled,
            risky=risky,
        )
    agreed = "classifier and model agree" if modelled == classified[0] else note
    # A confidence only where the model had to agree (risky mail) and did: the classifier's
    # calibrated one. Elsewhere none: a retrain that moves the classifier's number a little
    # must not make every model decision look new (its drafts would be made again).
    return Decision(
        "model",
        combined,
        classified[1] if risky and modelled == classified[0] else None,
        f"{why}; {agreed}",
        classified=classified,
        modelled=modelled,
        risky=risky,
    )


def distribution(classified: tuple[Category, float]) -> dict[str, float]:
    """The classifier's calibrated distribution (a `classifier.Reading` carries it); from a
    bare (category, confidence) the rest is shared evenly."""
    known = getattr(classified, "distribution", None)
    if known:
        return {c: float(known.get(c, 0.0)) for c in CATEGORIES}
    category, confidence = classified
    rest = (1.0 - confidence) / (len(CATEGORIES) - 1)
    return {c: (confidence if c == category else rest) for c in CATEGORIES}


def combine(classified: tuple[Category, float], modelled: Category) -> tuple[Category, float, str]:
    """The category both readings make likeliest, its probability and why: the classifier's
    distribution as the prior, the model's answer as evidence as good as the model is
    (MODEL_ACCURACY), so a model answer the classifier gave some weight wins and one it all
    but ruled out does not. Spam needs the classifier's agreement: spam is a silent route,
    and the embedded model calls plain client mail spam now and then."""
    prior = distribution(classified)
    if modelled == "spam" and classified[0] != "spam":
        return classified[0], classified[1], "the model alone cannot make mail spam"
    miss = (1.0 - MODEL_ACCURACY) / (len(CATEGORIES) - 1)
    score = {c: p * (MODEL_ACCURACY if c == modelled else miss) for c, p in prior.items()}
    total = sum(score.values()) or 1.0
    best = cast(Category, max(score, key=lambda c: score[c]))
    said = "the model's answer" if best == modelled else "the classifier's reading"
    return best, score[best] / total, f"{said} weighs more ({score[best] / total:.2f})"


def _risky_disagreement(
    risky: frozenset[str], classified: tuple[Category, float], modelled: Category
) -> bool:
    """A disagreement the owner settles: on a bank change or a request for secrets, or on
    whether money mail is spam (answered or silently dropped). Two legitimate readings of money
    mail are weighed like any other: the gate holds a money reply not sorted as billing for the
    owner anyway (`governance.holds.contradicts_rules`)."""
    if risky & {"bank_change", "secrets"}:
        return True
    return "spam" in (classified[0], modelled)


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
