"""/v1's model routes under auth, through the openai SDK: ``models.retrieve`` of a knowledge base
the key cannot read is a 404 exactly like an unknown one; a key without the read scope is refused."""

from __future__ import annotations

from typing import Iterator

import openai
import pytest

from tests.api.test_route_authorization import Keys
from zhiku import Zhiku


@pytest.fixture
def keys(zk: Zhiku) -> Iterator[Keys]:
    k = Keys(zk)
    yield k
    k.close()


def _sdk(keys: Keys, user: str, scopes: tuple[str, ...]) -> openai.OpenAI:
    """The SDK with a key of ``user``, on the app's transport (its client is the one ``keys`` closes)."""
    raw = keys.client(user, scopes)
    return openai.OpenAI(base_url="http://zhiku.test/v1", api_key=raw.headers["Authorization"].split()[1],
                         max_retries=0, http_client=raw)


def test_retrieve_a_kb_model_follows_its_access(keys: Keys) -> None:
    for user in ("alice", "bob"):
        oai = _sdk(keys, user, ("read",))
        assert oai.models.retrieve("kb:手册").id == "kb:手册"
        assert "kb:手册" in [m.id for m in oai.models.list()]
    oai = _sdk(keys, "carol", ("read",))
    with pytest.raises(openai.NotFoundError) as hidden:
        oai.models.retrieve("kb:手册")
    with pytest.raises(openai.NotFoundError) as missing:
        oai.models.retrieve("kb:没有")
    assert hidden.value.message == missing.value.message.replace("没有", "手册")
    assert "kb:手册" not in [m.id for m in oai.models.list()]
    oai = _sdk(keys, "alice", ("admin",))  # no read scope: not even a chat model's entry
    for model in ("kb:手册", "some-chat-model"):
        with pytest.raises(openai.PermissionDeniedError) as refused:
            oai.models.retrieve(model)
        assert refused.value.body["details"]["scope"] == "read"  # type: ignore[index]
        assert refused.value.code == "forbidden"
