"""ConversationStore: server-issued ids, owned by the key that started the conversation."""

from __future__ import annotations

from assistant.cache import MemoryCache
from assistant.conversation_store import ConversationStore


def store(max_turns: int = 10) -> ConversationStore:
    return ConversationStore(MemoryCache(), ttl_s=60, max_turns=max_turns)


def test_a_new_conversation_gets_a_server_id_and_is_continued_by_its_owner() -> None:
    s = store()
    conv = s.open("key-a")
    assert conv.id and not conv.continued and conv.history == []
    s.append(conv, "What is Ridge?", "An L2 penalty [1].")
    again = s.open("key-a", conv.id)
    assert again.id == conv.id and again.continued
    assert [m["content"] for m in again.history] == ["What is Ridge?", "An L2 penalty [1]."]


def test_foreign_and_unknown_ids_start_new_conversations() -> None:
    s = store()
    conv = s.open("key-a")
    s.append(conv, "secret question of a", "answer")
    foreign = s.open("key-b", conv.id)
    assert foreign.id != conv.id and not foreign.continued and foreign.history == []
    s.append(foreign, "question of b", "answer")
    # B's turns went to B's own new conversation, not into A's.
    assert [m["content"] for m in s.open("key-a", conv.id).history] == [
        "secret question of a",
        "answer",
    ]
    unknown = s.open("key-a", "chosen-by-the-client")
    assert unknown.id != "chosen-by-the-client" and not unknown.continued


def test_history_sent_with_the_request_wins_and_turns_are_capped() -> None:
    s = store(max_turns=4)
    conv = s.open("k")
    for i in range(3):
        s.append(conv, f"q{i}", f"a{i}")
        conv = s.open("k", conv.id)
    assert [m["content"] for m in conv.history] == ["q1", "a1", "q2", "a2"]
    sent = [
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": "mine"},
        {"role": "assistant", "content": "reply"},
    ]
    inline = s.open("k", conv.id, sent)
    assert inline.id == conv.id and [m["content"] for m in inline.history] == ["mine", "reply"]
