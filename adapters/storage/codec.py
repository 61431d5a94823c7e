"""Domain events to stored rows and back, without the library's per-event wrappers (ADR 0005).

Replays built a `StoredEvent`, a `UUID` and a JSON decoder call chain per row: rows are
decoded with the transcoder's own scanner and object hook, and JSON is encoded with one C
encoder built once.
"""

import json
from json.encoder import (  # type: ignore[attr-defined]
    c_make_encoder,
    encode_basestring,
    encode_basestring_ascii,
)
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

Row = tuple[int, str, bytes]  # originator_version, topic, state


class EventCodec:
    """Domain events to stored rows and back, as the library's `Mapper` does, without its
    per-event wrappers: JSON is written and read with the transcoder's own encoder settings and
    object hook (so the same registered transcodings and the same bytes), topics are resolved
    once per class, and the originator id is the one asked for. Anything unusual (a cipher,
    compression, another transcoder, odd bytes, an event of an older class version to upcast)
    goes the library's way."""

    def __init__(self, mapper: Mapper[UUID]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self.plain = not (mapper.cipher or mapper.compressor)
        json = isinstance(transcoder, JSONTranscoder) and self.plain
        self._encode = _encoder(transcoder)
        self._scan = transcoder.decoder.scan_once if json else None  # type: ignore[attr-defined]
        self._classes: dict[str, tuple[type, int]] = {}

    def rows(self, events: list[Any]) -> list[Row]:
        return [self.row(event) for event in events]

    def row(self, event: Any) -> Row:
        if not self.plain:
            stored = self.mapper.to_stored_event(event)
            return stored.originator_version, stored.topic, stored.state
        fields = event.__dict__.copy()
        del fields["originator_id"]
        version = fields.pop("originator_version")
        class_version = getattr(type(event), "class_version", 1)
        if class_version > 1:
            fields["class_version"] = class_version
        return version, get_topic(type(event)), self._encode(fields)

    def events(self, generator_id: UUID, rows: list[Row]) -> list[Any]:
        scan, classes, events = self._scan, self._classes, []
        for version, topic, state in rows:
            cls, current = classes.get(topic) or self._class(topic)
            fields = None
            if scan is not None:
                text = state.decode("utf8")
                try:  # not contextlib.suppress: its enter/exit calls cost ~10% of a replay
                    fields, end = scan(text, 0)
                except (StopIteration, ValueError):
                    fields = None
                else:
                    if end != len(text) or type(fields) is not dict:
                        fields = None
                    elif fields.pop("class_version", 1) != current:
                        fields = None  # an older version: the library upcasts it
            if fields is None:
                stored = StoredEvent(generator_id, version, topic, state)
                events.append(self.mapper.to_domain_event(stored))
                continue
            fields["originator_id"] = generator_id
            fields["originator_version"] = version
            event = object.__new__(cls)
            object.__setattr__(event, "__dict__", fields)  # as the library's mapper does
            events.append(event)
        return events

    def _class(self, topic: str) -> tuple[type, int]:
        """The event class of a topic and its current `class_version`."""
        cls = resolve_topic(topic)
        self._classes[topic] = (cls, getattr(cls, "class_version", 1))
        return self._classes[topic]


def _encoder(transcoder: Any) -> Any:
    """`transcoder.encode`, or for the JSON transcoder the same encoding without building a
    new C encoder per call as `JSONEncoder.encode` does (same settings, so the same bytes)."""
    settings = getattr(transcoder, "encoder", None)
    if not isinstance(transcoder, JSONTranscoder) or c_make_encoder is None:
        return transcoder.encode
    if not isinstance(settings, json.JSONEncoder) or settings.indent is not None:
        return transcoder.encode
    encode = c_make_encoder(
        None,  # no circular-reference check: event states are trees of plain values
        settings.default,
        encode_basestring_ascii if settings.ensure_ascii else encode_basestring,
        None,
        settings.key_separator,
        settings.item_separator,
        settings.sort_keys,
        settings.skipkeys,
        settings.allow_nan,
    )
    return lambda fields: "".join(encode(fields, 0)).encode("utf8")
