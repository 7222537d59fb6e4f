"""Query understanding learnt from the corpus."""

from __future__ import annotations

import pytest

import difflib
import random

from qa.query import PARAPHRASE_SIMILARITY, TYPO_SIMILARITY, QueryAnalyzer, _closest, is_name, question_parts
from qa.text import index_terms


@pytest.fixture(scope="module")
def analyzer(index):
    return QueryAnalyzer(index.documents.values(), index.lexicon)


def test_abbreviation_and_long_form_expand_each_other(analyzer):
    assert "multivesicular bodies" in analyzer.analyze("What is an MVB?").dense_text
    assert "mdsc" in analyzer.analyze("What do myeloid-derived suppressor cells produce?").expansions
    # A long form in British spelling is the corpus's long form too.
    assert "tme" in analyzer.analyze("What makes up the tumour microenvironment?").terms


def test_spelling_and_symbol_variants_reach_corpus_forms(analyzer):
    query = analyzer.analyze("Does TGF-beta in tumour exosomes matter? And miR21?")
    assert "TGF-β" in query.dense_text
    assert "tumor" in query.expansions and "mir-21" in query.expansions
    assert "p85α" in analyzer.analyze("p85 alpha loss").expansions


def test_papers_named_by_author_or_table(analyzer):
    query = analyzer.analyze("In Zhang's Table 2, which biofluid was used?")
    assert query.doc == "zhang2015" and query.table == 2
    assert analyzer.analyze("What do Bae et al. say about NK cells?").doc == "bae2018"
    assert analyzer.analyze("Do the two reviews agree on exosome size?").compare
    # Naming both papers' authors compares them; naming one does not.
    both = analyzer.analyze("Which proteins mark exosomes according to Zhang and according to Bae?")
    assert both.compare and both.doc is None
    assert not analyzer.analyze("Which proteins mark exosomes according to Zhang?").compare


def test_follow_ups_borrow_the_previous_turn_only_when_needed(analyzer):
    history = [{"question": "Which cells secrete MET-carrying exosomes?", "answer": "Melanoma cells."}]
    elliptical = analyzer.analyze("and in which recipient cells?", history)
    assert elliptical.follow_up and "MET-carrying" in elliptical.context
    standalone = analyzer.analyze("How does hypoxia change exosome release in glioblastoma?", history)
    assert not standalone.follow_up and not standalone.context
    # Padding before the opener, "something similar" and "an example" lean on the turn before too.
    for question in ("ok, but what about melanoma exosomes in bone marrow?", "does something similar happen in lung cancer?",
                     "got an example involving macrophages?"):
        leaning = analyzer.analyze(question, history)
        assert leaning.follow_up and "MET-carrying" in leaning.context, question


def test_words_the_papers_never_use_are_flagged(analyzer):
    query = analyzer.analyze("Are glypican-1 exosomes used with doxorubicin?")
    assert query.unknown_words == ["glypican-1", "doxorubicin"] and query.content_words == 4
    assert analyzer.analyze("Do tumour exosomes carry miR21 and TGF-beta?").unknown_words == []


def test_what_a_list_question_asks_for(analyzer):
    assert analyzer.analyze("Which body fluids contain exosomes?").listed == ["fluid"]
    assert analyzer.analyze("What kinds of proteins are in exosomes?").listed == ["protein"]
    assert analyzer.analyze("What does Zhang say about NK cells?").listed == []
    assert analyzer.analyze("Which reference shows that hypoxia matters?").listed == []


def test_how_a_question_frames_the_papers_is_not_searched_for(analyzer):
    query = analyzer.analyze("What do the two reviews report about melanoma exosomes?")
    assert "report" not in query.terms and "report" not in query.topic_terms
    assert "melanoma" in query.terms


def test_a_misspelt_word_reaches_the_corpus_word(analyzer):
    query = analyzer.analyze("macrophages and immune supression")
    assert "suppression" in query.expansions
    assert query.unknown_words == []
    # A short or far-off word is not bent into a corpus word.
    assert analyzer.analyze("exosome skincare serum").unknown_words == ["skincare"]
    # A short word English does not use is a misspelling; a short English word is not (live is no "liver").
    assert "release" in analyzer.analyze("heparanase exosome relase").expansions
    assert "marrow" in analyzer.analyze("myeloma bone marow exosomes").expansions
    live = analyzer.analyze("Do exosomes live long in the blood?")
    assert "liver" not in live.expansions and "liv" not in live.terms


def test_the_fast_misspelling_look_up_finds_what_difflib_finds(index):
    # Every corpus word with one letter dropped, doubled or changed, against the whole vocabulary.
    vocabulary = sorted(w for w in index.lexicon.words if w.isalpha() and len(w) >= 4)
    rng = random.Random(0)
    found = 0
    for word in rng.sample(vocabulary, 150):
        i = rng.randrange(len(word))
        for typo in (word[:i] + word[i + 1:], word[:i] + word[i] + word[i:], word[:i] + "x" + word[i + 1:]):
            expected = difflib.get_close_matches(typo, vocabulary, n=1, cutoff=TYPO_SIMILARITY)
            assert _closest(typo, vocabulary) == (expected[0] if expected else None), typo
            found += bool(expected)
    assert found > 100  # most typos of long enough words are within reach


def test_latin_letters_typed_for_greek_ones_reach_the_corpus_name(analyzer):
    for typed, written in [("TGF-b", "tgf-β"), ("avb6", "αvβ6"), ("NF-kB", "nf-κb"), ("HIF-1a", "hif-1α")]:
        query = analyzer.analyze(f"{typed} in tumour exosomes")
        assert written in query.expansions and query.unknown_words == [], typed
    # Only a spelling the corpus uses: Rab27a stays Rab27a.
    assert not any("α" in e or "β" in e for e in analyzer.analyze("Rab27a and exosome release").expansions)


def test_padding_and_contractions_are_not_the_subject(analyzer):
    query = analyzer.analyze("Wait, so what exactly are exosomes, really? I don’t get it")
    assert {"wait", "exact", "realli", "dont", "don"}.isdisjoint(query.terms + query.topic_terms)
    assert query.unknown_words == []
    assert "exosom" in query.topic_terms
    # A fact-checking frame asks whether, about its subject: its words are no subject and nothing off-topic.
    check = analyzer.analyze("True or false: exosomes can cross the blood brain barrier. Is that right?")
    assert {"true", "fals", "right"}.isdisjoint(check.terms) and check.unknown_words == []


def test_an_everyday_word_is_searched_as_the_corpus_word_it_paraphrases(pipeline):
    spit = pipeline.understand("Is there exosomes in spit?")
    assert "saliva" in spit.expansions and "saliva" in spit.terms and "spit" not in spit.topic_terms
    assert spit.unknown_words == ["spit"] and spit.unknown_similarity[0] >= PARAPHRASE_SIMILARITY
    # A technical word close to a corpus word names something else: it stays unknown and unsearched.
    other = pipeline.understand("Do neuroblastoma exosomes carry MYCN?")
    assert "glioblastoma" not in other.expansions and "neuroblastoma" in other.topic_terms
    # A foreign everyday word is not bent into the nearest corpus word either (hair ~ body 0.56).
    assert pipeline.understand("Can exosome hair therapy cause cancer?").expansions == []


def test_a_paraphrased_question_gets_the_answer_its_corpus_wording_gets(pipeline):
    answer = pipeline.ask("exosomes in spit")
    assert not answer.abstained and "saliva" in answer.sentences[0].text


def test_a_name_is_told_from_a_word_and_a_number():
    assert all(is_name(w) for w in ("PRP", "ExoDx", "CAR-T", "miR-21", "Tspan8", "NKG2D"))
    assert not any(is_name(w) for w in ("Exosomes", "spit", "2018", "1-2"))


def test_a_yes_no_question_about_an_amount_asks_whether_not_how_many(analyzer):
    assert analyzer.analyze("How many exosomes do melanoma cells release at low pH?").wants_quantity
    assert not analyzer.analyze("Does low pH change how many exosomes melanoma cells release?").wants_quantity
    # "How big" in a yes/no question still asks for the sizes.
    assert analyzer.analyze("Do the two reviews agree on how big exosomes are?").wants_quantity


def test_a_question_after_a_statement_follows_it(analyzer):
    query = analyzer.analyze("My aunt has ovarian cancer. Can an exosome test help find it early?")
    assert query.follow_up and query.context == "My aunt has ovarian cancer."
    assert "ovarian" in query.context_terms and "ovarian" not in query.topic_terms
    assert query.question == "Can an exosome test help find it early?"
    # The statement's words the papers never use still count, and a paper named there is still named.
    assert "facial" in analyzer.analyze("I had an exosome facial last month. Could it cause a rash?").unknown_words
    assert analyzer.analyze("I am reading the Bae review. What does it say about angiogenesis?").doc == "bae2018"


def test_a_statement_joined_by_a_comma_to_a_question_that_refers_back_is_followed(pipeline):
    query = pipeline.understand("my doctor mentioned exosomes, what are they?")
    assert query.follow_up and query.question == "what are they?"
    assert query.context.strip() == "my doctor mentioned exosomes"
    # "What are they?" defines what the statement named; the statement's unknown "doctor" counts against
    # answering but is not searched for as a corpus word ("medical").
    assert query.defines == ["exosom"] and "doctor" in query.unknown_words and query.topic_terms == []
    assert "tumor" in pipeline.understand("I read that tumours release exosomes, why do they?").context_terms
    # A phrase before a question that does not refer back is part of it; so is a question's own second clause.
    for text in ("In breast cancer, which miRNAs are elevated?", "What are exosomes, and how do they work?"):
        assert not pipeline.understand(text).follow_up, text
    # A heading joined to a question about it is that question's subject, searched with the question's own weight.
    heading = pipeline.understand("FasL on exosomes: what role does it play?")
    assert not heading.follow_up and "fasl" in heading.topic_terms


def test_a_request_for_a_definition_in_its_many_wordings(analyzer):
    for text, subject in (("What are exosomes?", ["exosom"]), ("what's an exosome", ["exosom"]),
                          ("What does TDE stand for?", ["tde"]), ("what does theranostics mean", ["theranost"]),
                          ("Define angiogenesis.", ["angiogenesi"]), ("meaning of pre-metastatic niche", None),
                          ("tumour microenvironment definition", ["tumour", "microenviron"]),
                          ("what is meant by liquid biopsy?", ["liquid", "biopsi"]),
                          ("What is the TME, and why does it matter?", ["tme"])):
        query = analyzer.analyze(text)
        assert query.defines == (subject or index_terms("pre-metastatic niche")), text
        assert {"mean", "defin", "stand"}.isdisjoint(query.topic_terms), text
    assert analyzer.analyze("What does the TME do to T cells?").defines == []


def test_a_cause_or_requirement_frame_is_not_the_subject(analyzer):
    for text in ("what causes hypoxia in tumours?", "What does a tumour need before it can metastasise?",
                 "What is required for exosome secretion?", "the reason tumours make exosomes"):
        query = analyzer.analyze(text)
        assert {"caus", "need", "requir", "reason"}.isdisjoint(query.terms + query.topic_terms), text
    # Elsewhere the same words are the subject.
    assert "need" in analyzer.analyze("Do cancer cells need exosomes?").topic_terms
    # So with a means: a question for methods or ways need not find those words; a search for them does.
    for text in ("What methods are used to isolate exosomes?", "Compare the exosome isolation methods of both papers."):
        assert "method" not in analyzer.analyze(text).topic_terms, text
    assert "way" in analyzer.analyze("ways exosomes enter cells").topic_terms


def test_only_a_statement_with_words_of_its_own_is_followed(analyzer):
    # Padding is no statement; "et al." ends no sentence; a question before another question is no statement.
    for text, read in (("Wait! Why do tumours need blood vessels?", None),
                       ("Which lipids do Zhang et al. say exosomes carry?", None),
                       ("Exosomes: friend or foe? What do they do to macrophages?",
                        "Exosomes: dual role, helpful or harmful? What do they do to macrophages?")):
        query = analyzer.analyze(text)
        assert not query.follow_up and query.question == (read or text), text


def test_in_a_conversation_a_statement_answers_the_turn_before(analyzer):
    history = [{"question": "What do exosomes carry?", "answer": "Exosomes carry proteins, lipids and RNA."}]
    query = analyzer.analyze("Interesting stuff. Why is that?", history)
    assert query.follow_up and query.context.startswith("What do exosomes carry?")


def test_a_titles_figure_of_speech_is_read_in_plain_words(analyzer):
    query = analyzer.analyze("Exosomes and immunity: a double-edged sword")
    # Neither searched for nor counted as words the papers never use, which would make it look off-topic.
    assert query.unknown_words == [] and "sword" not in query.terms
    assert {"dual", "role", "harm"} <= set(query.terms)
    assert analyzer.analyze("Friends or foes? Tumour exosomes").unknown_words == []
    hijacking = analyzer.analyze("Hijacking the immune system: how tumour exosomes blunt T cells")
    assert "hijacking" not in [w.lower() for w in hijacking.unknown_words] and "exploit" in hijacking.terms
    assert "communic" in analyzer.analyze("Exosomes: key players in cancer cell cross talk").terms
    # The asker's own "harmful" is still a word the papers never use.
    assert analyzer.analyze("Are exosome facials harmful?").unknown_words == ["facials", "harmful"]


def test_lay_words_are_searched_for_as_the_medical_words(analyzer):
    query = analyzer.analyze("bowel cancer exosome test")
    assert "colorect" in query.terms and query.unknown_words == []
    assert "vesicl" in analyzer.analyze("what are the little bubbles cells release called").terms
    # Spreading is metastasis where a cancer spreads, not where prions do.
    assert "metastasi" in analyzer.analyze("how do cancers spread to other organs?").terms
    assert "metastasi" not in analyzer.analyze("Can prions spread between cells?").terms
    # "An exosome test" is a diagnostic one, which a sentence saying "have been tested" does not answer.
    test = analyzer.analyze("can an exosome test pick up lung cancer?")
    assert "diagnost" in test.terms and "test" not in test.focus_terms
    assert "test" in analyzer.analyze("Has exosome therapy been tested in patients?").focus_terms
    # Lay phrases for hypoxia, chemotherapy, adipocytes and apoptosis; "oxygen" alone is no hypoxia.
    assert "hypoxia" in analyzer.analyze("what happens to cancer cells in low oxygen").terms
    assert "hypoxia" in analyzer.analyze("Are tumours starved of oxygen?").terms
    assert "hypoxia" not in analyzer.analyze("Do exosomes carry oxygen?").terms
    assert "chemotherapi" in analyzer.analyze("does chemo work better with exosome blockers").terms
    assert "adipocyt" in analyzer.analyze("do tumour exosomes talk to fat cells").terms
    assert "apoptosi" in analyzer.analyze("can exosomes stop cell suicide").terms
    assert "normal" in analyzer.analyze("do healthy cells make exosomes too").terms
    assert "urin" in analyzer.analyze("is there a pee test for bladder cancer").terms
    assert "thrombosi" in analyzer.analyze("do tumour exosomes make blood clot more").terms


def test_everyday_verbs_are_searched_for_as_the_formal_ones(analyzer):
    query = analyzer.analyze("What happens when a cell swallows an exosome?")
    assert "uptak" in query.terms and "swallow" not in query.focus_terms and query.unknown_words == []
    # "What happens ..." asks for an effect: it names nothing to find, and lists nothing.
    assert "happen" not in query.terms and query.listed == []
    assert "secret" in analyzer.analyze("do tumour cells pump out more exosomes").terms
    assert "uptak" in analyzer.analyze("How do recipient cells take up exosomes?").terms
    # "How are X made?" asks how they form; "what are X made of?" for their makeup.
    assert "biogenesi" in analyzer.analyze("How are exosomes made inside a cell?").terms
    assert "biogenesi" not in analyzer.analyze("What are exosomes made of?").terms


def test_two_questions_joined_by_and_are_asked_one_after_the_other():
    assert question_parts("What are exosomes and why are they important in cancer?") == [
        "What are exosomes?", "why are they important in cancer?"]
    assert question_parts("How are exosomes formed, and how are they released") == [
        "How are exosomes formed", "how are they released"]
    # "and" inside one question, or in a search that is no question, joins no two questions.
    for one in ("What are the pros and cons of exosomes?", "Are exosomes and microvesicles the same?",
                "exosomes and how they spread cancer"):
        assert question_parts(one) == [one]
