"""The HTTP API over a real server: the answer contract, bad input, every endpoint and its 404s."""

from __future__ import annotations

import bibtexparser
import rispy

QUESTION = "What are the stages of exosome formation?"


def test_health_reports_the_index(http, manifest):
    data = http.get("/api/health").json()
    assert data["status"] == "ok" and data["passages"] == manifest["passages"]
    assert data["model"] == "all-MiniLM-L6-v2" and data["built_at"] == manifest["built_at"]


def test_ask_returns_the_contract(http):
    response = http.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200
    data = response.json()
    assert data["question"] == QUESTION and data["abstained"] is False
    assert 0 <= data["confidence"] <= 1
    assert "initiation, endocytosis, multivesicular bodies (MVBs) formation" in data["answer"]
    numbers = {c["n"] for c in data["citations"]}
    for sentence in data["sentences"]:
        assert sentence["citation"] in numbers
        cited = data["citations"][sentence["citation"] - 1]
        assert sentence["text"] in cited["text"]
        assert f"{sentence['text']} [{sentence['citation']}]" in data["answer"]
        assert set(sentence["refs"]) <= set(cited["refs"])
    assert data["sentences"][0]["refs"] == [1]
    scores = [p["score"] for p in data["passages"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 8
    assert {"id", "doc", "section", "kind", "text", "score", "refs"} <= set(data["passages"][0])
    assert {"retrieve", "total"} <= set(data["timing_ms"])


def test_a_question_in_the_url_gets_the_same_answer_and_references(http):
    posted = http.post("/api/ask", json={"question": QUESTION}).json()
    got = http.get("/api/ask", params={"question": QUESTION}).json()
    assert got["answer"] == posted["answer"] and got["citations"] == posted["citations"]
    assert posted["references"][0].startswith("Xu Zhang, Xiao Yuan") and "doi.org/10.1186" in posted["references"][0]


def test_an_off_topic_question_after_a_conversation_is_not_a_follow_up(http):
    history = [{"question": "Which antibody drug can HER2-positive exosomes bind?",
                "answer": "Exosomes from HER2-overexpressing breast cancer cells express active HER2 and can bind to "
                          "the HER2 antibody trastuzumab to inhibit its activity [55]. [1]"}]
    data = http.post("/api/ask", json={"question": "What is the capital of Australia?", "history": history}).json()
    assert data["abstained"] is True


def test_top_k_sets_the_number_of_passages(http):
    assert len(http.post("/api/ask", json={"question": QUESTION, "top_k": 3}).json()["passages"]) == 3


def test_off_topic_question_abstains_with_nearest_passages(http):
    data = http.post("/api/ask", json={"question": "What is the capital of Australia?"}).json()
    assert data["abstained"] is True
    assert "do not answer" in data["answer"]
    assert data["sentences"] == [] and data["citations"] == []
    assert len(data["passages"]) > 0 and data["confidence"] < 0.5


def test_history_is_accepted(http):
    body = {"question": "Which reference supports that?",
            "history": [{"question": "Which antibody drug can HER2-positive exosomes bind?",
                         "answer": "Exosomes ... can bind to the HER2 antibody trastuzumab to inhibit its activity [55]."}]}
    data = http.post("/api/ask", json=body).json()
    # The previous answer shortened its quote with "...": the full sentence and its reference come back.
    assert data["abstained"] is False
    assert 55 in data["sentences"][0]["refs"] and "trastuzumab" in data["sentences"][0]["text"]


def test_questions_of_only_stop_words_or_punctuation_are_answered_not_crashed(http):
    for question in ("What is it?", "???", "the of and", "Which reference supports that?", "é", "[12]"):
        response = http.post("/api/ask", json={"question": question})
        assert response.status_code == 200, question
        assert response.json()["abstained"] in (True, False)


def test_bad_input_gets_a_clear_4xx(http):
    cases = [
        {"question": ""}, {"question": "   "}, {"question": 42}, {"question": "x" * 1001},
        {"question": "ok?", "top_k": 0}, {"question": "ok?", "top_k": 51}, {"question": "ok?", "top_k": "many"},
        {}, {"question": "ok?", "history": "yesterday"}, {"question": "ok?", "surprise": 1}, [],
    ]
    for body in cases:
        response = http.post("/api/ask", json=body)
        assert response.status_code == 422, body
        error = response.json()["error"]
        assert error["status"] == 422 and error["message"].startswith("The request is not valid")
    broken = http.post("/api/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["error"]["message"]
    assert http.get("/api/ask").status_code == 422


def test_openapi_documents_ask_with_examples(http):
    spec = http.get("/openapi.json").json()
    ask = spec["paths"]["/api/ask"]["post"]
    assert "AskRequest" in str(ask["requestBody"]) and "examples" in str(spec["components"]["schemas"]["AskRequest"])
    assert http.get("/docs").status_code == 200


def test_documents_and_document_structure(http):
    listed = http.get("/api/documents").json()["documents"]
    assert [d["id"] for d in listed] == ["zhang2015", "bae2018"]
    zhang = http.get("/api/documents/zhang2015").json()
    assert zhang["document"]["doi"] == "10.1186/s13045-015-0181-x"
    assert [t["number"] for t in zhang["tables"]] == [1, 2] and len(zhang["tables"][0]["rows"]) == 49
    assert zhang["sections"][0]["title"] == "Abstract"
    table_blocks = [b for s in zhang["sections"] for b in s["blocks"] if b["type"] == "table"]
    assert len(table_blocks[1]["rows"]) == 25


def test_passage_with_neighbours(http):
    data = http.get("/api/passages/zhang2015-t1-r05").json()
    assert data["passage"]["cells"][0] == {"column": "Exosomal cargo", "value": "MET"}
    assert data["previous"] == "zhang2015-t1-r04" and data["next"] == "zhang2015-t1-r06"


def test_reference_lookup_lists_every_citing_unit(http):
    data = http.get("/api/documents/zhang2015/refs/39").json()
    kinds = {c["kind"] for c in data["citing"]}
    assert {"paragraph", "table_row"} <= kinds
    assert all(39 in c["refs"] for c in data["citing"])
    assert any("MET receptor" in c["text"] for c in data["citing"])


def test_cite_finds_support_or_says_none(http):
    found = http.get("/api/cite", params={"claim": "Lymphoma exosomes carry CD20 and soak up anti-CD20 antibodies"}).json()
    assert found["supported"] and found["results"][0]["refs"] == [54]
    assert "CD20" in found["results"][0]["sentence"]
    none = http.get("/api/cite", params={"claim": "Sourdough bread needs a long cold fermentation"}).json()
    assert none["supported"] is False and none["results"] == []
    blank = http.get("/api/cite", params={"claim": " "})
    assert blank.status_code == 422 and "the claim is empty" in blank.text


def test_unknown_things_are_404_with_a_message(http):
    for path in ("/api/documents/nope", "/api/passages/nope", "/api/documents/zhang2015/refs/9999",
                 "/api/documents/nope/cite.bib", "/api/nothing-here"):
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["message"]
    assert http.get("/api/documents/zhang2015/refs/abc").status_code == 422


def test_bibtex_round_trips(http):
    response = http.get("/api/documents/zhang2015/cite.bib")
    assert "attachment" in response.headers["content-disposition"]
    library = bibtexparser.parse_string(response.text)
    (entry,) = library.entries
    assert entry.key == "zhang2015" and entry["doi"] == "10.1186/s13045-015-0181-x"
    assert entry["title"] == "Exosomes in cancer: small particle, big player"
    assert entry["author"].startswith("Zhang, Xu and Yuan, Xiao")


def test_ris_is_readable(http):
    (entry,) = rispy.loads(http.get("/api/documents/bae2018/cite.ris").text)
    assert entry["type_of_reference"] == "JOUR"
    assert entry["authors"] == ["Bae, Susan", "Brumbaugh, Jeffrey", "Bonavida, Benjamin"]
    assert entry["year"] == "2018"


def test_every_route_has_a_named_operation_for_tool_servers(http):
    operations = [op["operationId"] for path in http.get("/openapi.json").json()["paths"].values()
                  for op in path.values()]
    assert len(operations) == len(set(operations))
    assert {"ask", "ask_get", "cite", "get_passage", "list_documents", "list_models", "chat_completions"} <= set(operations)
    assert not [op for op in operations if "_api_" in op]  # FastAPI's generated ids read like ask_api_ask_post


def test_the_confidence_band_comes_with_the_answer(http, pipeline):
    answered = http.post("/api/ask", json={"question": QUESTION}).json()
    assert answered["confidence_level"] == pipeline.abstainer.level(answered["confidence"]) != "low"
    abstained = http.post("/api/ask", json={"question": "What is the capital of Australia?"}).json()
    assert abstained["abstained"] is True and abstained["confidence_level"] == "low"
