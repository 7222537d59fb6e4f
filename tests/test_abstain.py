"""Abstention: the fitted model, its threshold and the confidence bands a page shows."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import asdict

from qa.abstain import FEATURES, HIGH_CONFIDENCE_ACCURACY, Abstainer, WordingPrior
from qa.answer import Pipeline


def _questions(n=300, seed=7):
    """Synthetic fit data: the first feature separates answerable questions, noisily; the reader is
    right on most answerable questions, more often the clearer they are."""
    rng = random.Random(seed)
    rows, answerable, right, groups = [], [], [], []
    for i in range(n):
        label = i % 2 == 0
        clarity = rng.gauss(1.0 if label else -1.0, 0.8)
        rows.append([clarity] + [rng.random() for _ in FEATURES[1:]])
        answerable.append(label)
        right.append(label and rng.random() < 0.75 + 0.2 * (clarity > 1.0))
        groups.append(f"q{i // 2}")
    return rows, answerable, right, groups


def test_fit_finds_a_threshold_and_a_high_band_above_it():
    rows, answerable, right, groups = _questions()
    model = Abstainer.fit(rows, answerable, right, groups)
    assert 0.05 <= model.threshold <= 0.8 and model.high < 0.99
    assert model.weights[0] > 0 and model.right_weights[0] > 0  # the separating feature raises both
    high = [ok for r, ok in zip(rows, right)
            if model.probability(r) >= model.threshold and model.level(model.confidence(r)) == "high"]
    assert len(high) >= 20 and sum(high) / len(high) >= HIGH_CONFIDENCE_ACCURACY - 0.05


def test_levels_follow_the_fitted_band():
    model = Abstainer([0.0] * len(FEATURES), 0.0, threshold=0.4, high=0.75)
    assert [model.level(p) for p in (0.1, 0.74, 0.75, 0.99)] == ["medium", "medium", "high", "high"]
    # Without a model of rightness, an answer's confidence is p(answerable).
    assert model.confidence([0.0] * len(FEATURES)) == model.probability([0.0] * len(FEATURES)) == 0.5


def test_the_wording_prior_reports_held_out_odds_not_memorised_ones():
    # One direction of the vectors says answerable, with noise; the rest is noise a prior can memorise.
    rng = random.Random(3)
    labels = [i % 2 == 0 for i in range(200)]
    vectors = [[rng.gauss(0.6 if label else -0.6, 1.0)] + [rng.gauss(0, 1) for _ in range(40)] for label in labels]
    groups = [f"q{i}" for i in range(200)]
    prior, held_out = WordingPrior.fit(vectors, labels, groups, "mini")
    assert prior.weights[0] > 0 and len(held_out) == 200
    assert json.loads(json.dumps(asdict(prior)))["model"] == "mini"  # stored with the model it was fitted for

    def agreement(logits):
        return sum((x > 0) == label for x, label in zip(logits, labels)) / len(labels)

    in_sample = [prior.log_odds(v) for v in vectors]
    assert 0.6 < agreement(held_out) < agreement(in_sample)  # learnt, but not as well as it fits its own questions
    assert prior.log_odds([1.0] * 7) == 0.0  # another embedding model's vector: no opinion


def test_questions_worded_like_ones_the_papers_never_answer_get_low_prior_odds(pipeline):
    worded = FEATURES.index("worded_answerable")
    out_of_scope = ["How much does an exosome facial cost at a med spa?",
                    "Is exosome IV therapy covered by my insurance?",
                    "my exosome pellet vanished after ultracentrifugation, what went wrong?"]
    answered = ["How are exosomes isolated from body fluids?",
                "What role do tumour-derived exosomes play in metastasis?",
                "Which proteins are enriched in exosomes?"]
    low = max(pipeline.abstention_features(q)[worded] for q in out_of_scope)
    high = min(pipeline.abstention_features(q)[worded] for q in answered)
    assert low < 0 < high


def test_a_wording_prior_fitted_on_another_models_vectors_has_no_opinion(pipeline):
    other = copy.copy(pipeline.index)
    other.manifest = {**pipeline.index.manifest, "model": "another-model-of-the-same-size"}
    assert Pipeline(other).abstainer.wording is None
    assert pipeline.abstainer.wording.model == pipeline.index.manifest["model"]


def test_the_stored_model_names_its_features_and_bands(pipeline):
    model = pipeline.abstainer
    assert len(model.weights) == len(model.right_weights) == len(FEATURES)
    assert len(model.wording.weights) == pipeline.index.embed(["exosome"]).shape[1]
    assert 0 < model.threshold < 1 and 0 < model.high < 1


def test_a_name_the_papers_never_use_is_foreign_however_its_letters_embed(pipeline):
    # "ZYN002" embeds near corpus words (cosine 0.57), yet as a name it is either in the papers or not.
    foreign = FEATURES.index("unknown_foreign")
    as_name = pipeline.abstention_features("Are exosomes used with ZYN002 gel?")[foreign]
    as_word = pipeline.abstention_features("Are exosomes used with zyn gel?")[foreign]
    assert as_name > 0.9 > 0.5 > as_word > 0  # rarity 1 x fully foreign; a word 0.66 close is nearly a paraphrase
    assert pipeline.ask("Are exosomes used with ZYN002 gel?").abstained


def test_a_count_written_in_words_is_a_number(pipeline):
    # "how many ...?" is answered by "the six key traits": no digit, still the count asked for.
    missing = FEATURES.index("number_missing")
    assert pipeline.abstention_features("How many key traits of cancer did Hanahan and Weinberg outline?")[missing] == 0
    assert pipeline.abstention_features("How many patients received amiloride in the trial?")[missing] == 1
    # The digits of a name are no count: the miR-1290 row says nothing of how many patients.
    assert pipeline.abstention_features("How many prostate cancer patients had exosomal miR-1290 measured?")[missing] == 1



def test_a_price_is_an_amount_of_money_and_a_tables_label_no_number(pipeline):
    # "Table 2: Exosome-based applications and therapies in cancer." gives no price, whatever its label's digit.
    missing = FEATURES.index("number_missing")
    question = "how much does exosome therapy cost"
    assert pipeline.analyzer.analyze(question).wants_quantity
    assert pipeline.abstention_features(question)[missing] == 1
    assert pipeline.ask(question).abstained


def test_a_row_naming_another_cancer_than_the_question_is_a_near_miss(pipeline):
    # The claudin-4 row names ovarian cancer; "bladder" is in another row of the same table (EDIL-3).
    rival = FEATURES.index("rival_in_table")
    near_miss = pipeline.abstention_features("Is plasma exosomal claudin-4 a marker of bladder cancer?")
    matching = pipeline.abstention_features("Is plasma exosomal claudin-4 a marker of ovarian cancer?")
    assert near_miss[rival] > 0.5 and matching[rival] == 0
    assert pipeline.abstainer.probability(near_miss) < pipeline.abstainer.probability(matching) - 0.2
    # A sentence is no table row: nothing to set it against.
    assert pipeline.abstention_features("What does amiloride do to exosome formation?")[rival] == 0
