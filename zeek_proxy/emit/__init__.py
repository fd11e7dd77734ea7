"""Output formats, by their `--to` spelling."""

from zeek_proxy.emit.base import Emitter
from zeek_proxy.emit.csv import CSVEmitter
from zeek_proxy.emit.ecs import ECSEmitter, ECSEventEmitter, documents
from zeek_proxy.emit.notice import NoticeEmitter, NoticeJSONEmitter

EMITTERS: dict[str, type[Emitter]] = {
    e.name: e for e in (ECSEmitter, NoticeEmitter, NoticeJSONEmitter, CSVEmitter)
}

__all__ = ["EMITTERS", "ECSEventEmitter", "Emitter", "documents"]
