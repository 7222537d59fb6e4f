"""Answers: verbatim, cited, concise, or an honest abstention."""

from __future__ import annotations

from conftest import source_text

from qa.text import squash


def from_source(passage) -> str:
    """The squashed source text a passage was built from (its spans, in order)."""
    source = source_text(passage.doc)
    return squash("".join(source[a:b] for a, b in passage.spans))


def test_quoted_text_is_verbatim_from_the_index_and_the_source(pipeline, index):
    questions = ["How do tumour exosomes help cancer cells resist antibody drugs?",
                 "Which biofluid was used to measure exosomal LRG1 in lung cancer?",
                 "What does Figure 3 of Bae show about MDSCs?"]
    for question in questions:
        answer = pipeline.ask(question)
        assert not answer.abstained
        for sentence in answer.sentences:
            passage = index.passage_by_id[answer.citations[sentence.citation - 1].passage_id]
            assert sentence.text in passage.text
            # Repaired text differs from its source only by line breaks and broken-word hyphens.
            if passage.kind == "table_row":
                assert all(squash(value) in from_source(passage) for _, value in passage.cells)
            else:
                assert squash(sentence.text) in from_source(passage)


def test_a_table_question_is_answered_by_its_row(pipeline):
    answer = pipeline.ask("Which exosomal cargo from mast cells accelerates lung cancer cell proliferation?")
    assert answer.sentences[0].text.startswith("Exosomal cargo: KIT | Secreting cell: Mast cells")
    assert answer.sentences[0].refs == [105]
    assert answer.citations[0].kind == "table_row"


def test_citation_questions_carry_the_reference_numbers(pipeline):
    answer = pipeline.ask("Which reference reports that lymphoma exosomes carry CD20?")
    assert 54 in answer.sentences[0].refs
    assert "[54]" in answer.answer


def test_sentence_leaning_on_the_previous_one_brings_it_along(pipeline):
    answer = pipeline.ask("What do Luga and colleagues say happens after breast cancer cells take up stromal exosomes?")
    texts = [s.text for s in answer.sentences]
    assert any("loaded with Wnt11" in t for t in texts)
    # In a figure legend too: "They are formed by ..." comes after the sentence saying what "they" are.
    texts = [s.text for s in pipeline.ask("How are exosomes formed?").sentences]
    leaning = next(i for i, t in enumerate(texts) if t.startswith("They are formed"))
    assert leaning > 0 and "Exosomes are small" in texts[leaning - 1]


def test_answers_stay_short(pipeline):
    for question in ("What do exosomes contain?", "How are exosomes isolated?", "Roles of exosomes in cancer"):
        answer = pipeline.ask(question)
        assert len(answer.answer.split()) <= 110 and 1 <= len(answer.sentences) <= 4


def test_comparison_quotes_each_paper(pipeline):
    answer = pipeline.ask("Do the two reviews agree on how exosomes are formed?")
    assert {c.doc for c in answer.citations} == {"zhang2015", "bae2018"}


def test_follow_up_uses_the_previous_turn(pipeline):
    first = pipeline.ask("Which antibody drug can exosomes from HER2-overexpressing breast cancer cells bind?")
    assert "trastuzumab" in first.answer
    follow = pipeline.ask("Which reference supports that?", [{"question": first.question, "answer": first.answer}])
    assert 55 in [r for s in follow.sentences for r in s.refs]


def test_a_why_follow_up_goes_on_from_the_quote_instead_of_repeating_it(pipeline):
    previous = ("NK cells are another immune cell that TDEs may inhibit, with a decrease in their number and "
                "activity in the TME.")
    history = [{"question": "How do TDEs affect NK cells?", "answer": previous}]
    why = pipeline.ask("why is that?", history)
    assert not why.abstained and all("NK cells are another immune cell" not in s.text for s in why.sentences)
    # It goes on in the paper and the part of it the quote came from.
    assert {c.doc for c in why.citations} == {"bae2018"}
    # Asking for the source still quotes the same sentence, with its reference.
    source = pipeline.ask("which reference is that from?", history)
    assert "NK cells are another immune cell" in source.sentences[0].text and 59 in source.sentences[0].refs


def test_a_follow_up_with_no_words_of_its_own_reads_on_from_the_quote(pipeline):
    history = [{"question": "Which miRNA is carried by exosomes from metastatic breast cancer cells?",
                "answer": "Exosomes from metastatic breast cancer cells contain miR-105."}]
    # Its words find nothing near the quote; the sentence after it is what it asks for.
    answer = pipeline.ask("what does it actually do once it gets there?", history)
    assert "degrades ZO-1 protein" in answer.sentences[0].text
    assert all("contain miR-105" not in s.text for s in answer.sentences)


def test_unanswerable_questions_abstain_with_nearest_passages(pipeline):
    for question in ("What is the capital of Australia?", "How do I bake sourdough bread?",
                     "Which glypican-1 assay detects pancreatic cancer exosomes?"):
        answer = pipeline.ask(question)
        assert answer.abstained, question
        assert answer.sentences == [] and answer.passages and answer.confidence < 0.5
        assert "do not answer" in answer.answer


def test_confidence_is_a_probability_and_higher_for_answerable(pipeline):
    good = pipeline.ask("What are the stages of exosome formation?")
    bad = pipeline.ask("Who won the football world cup in 2018?")
    assert 0 <= bad.confidence < good.confidence <= 1


def test_a_definition_question_gets_a_sentence_saying_what_the_subject_is(pipeline):
    answer = pipeline.ask("what are exosomes")
    assert "Exosomes are small" in answer.sentences[0].text


def test_each_of_two_questions_joined_by_and_gets_its_answer(pipeline):
    # "why ... important in cancer" steers the whole question's search away from any sentence saying what
    # exosomes are.
    answer = pipeline.ask("What are exosomes and why are they important in cancer?")
    assert answer.sentences[0].text.startswith("Exosomes are small")
    assert any("important" in s.text for s in answer.sentences[1:])
    # "isolated and characterized" echoed both parts; the methods of isolation come first now.
    answer = pipeline.ask("How are exosomes isolated and how are they characterised?")
    assert "ultracentrifugation" in answer.sentences[0].text


def test_a_list_question_gets_the_sentence_that_lists(pipeline):
    lipids = pipeline.ask("Which lipids are found in exosomes?")
    assert "lipids such as sphingolipids, cholesterol, and ceramide" in lipids.sentences[0].text
    pathway = pipeline.ask("Which proteins take part in the ESCRT-independent pathway?")
    assert "including sphingomylinase-2" in pathway.sentences[0].text


def test_a_table_caption_brings_its_best_matching_row(pipeline):
    answer = pipeline.ask("What disadvantages of nanocarriers does Bae's Table 2 list?")
    texts = [s.text for s in answer.sentences]
    assert texts[0].startswith("Table 2:")
    assert any(t.startswith("Activities: Nanocarriers") and "Proper design is a challenge" in t for t in texts[1:])


def test_warming_up_loads_what_a_first_question_with_a_foreign_word_would_wait_for(pipeline):
    import wordfreq
    from wordfreq import get_frequency_dict

    # A fresh process: neither the list nor any word looked up in it yet (earlier tests looked words up).
    get_frequency_dict.cache_clear()
    wordfreq._wf_cache.clear()
    pipeline.warm_up()
    assert get_frequency_dict.cache_info().currsize == 1  # abstention's English word list, loaded once
