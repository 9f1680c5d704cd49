"""What crossed the wire: every recorded session rebuilt as a conversation of commands, replies
and message data, each with the simulated time its side sent it, and written as transcripts.

The simulation records session traces (``World(..., trace=True)``: the typed records of
:mod:`simulator.protocols.trace`); this package turns each trace, with the message facts read
from the event log's ``created``, ``delivered``, ``bounced`` and ``bounce_sent``/``warning_sent``
records, into a
:class:`~.conversation.Conversation`: the TCP endpoints and the ordered sends of client (``C``)
and server (``S``). The same conversations feed the transcripts (``transcripts.jsonl``) and the
packet capture (:mod:`simulator.pcap`), so both show the same bytes at the same times.

Times are the moment the line's sender puts it on the wire. The lines and their offsets are the
protocol's dialogue layout (:mod:`simulator.protocols.dialogue`), the one the session waited
on, placed from the moments the session recorded (its start, each transfer's start and end,
the server's acceptance, its end or cut): one timeline, so they agree with the timing contract
and with the event log exactly. Message data is synthesized to exactly the bytes the
simulation moved on that hop. A transcript shows the headers and a short excerpt of the body;
the capture carries all of it.

Where things live:

- :mod:`.facts`: the messages as the event log tells of them (:class:`~.facts.Facts`);
- :mod:`.body_lines`, :mod:`.content`: message bytes of an exact size (generated prose and
  base64 lines; headers, MIME parts and DSNs; :func:`~.content.content_for`);
- :mod:`.replies`: SMTP reply codes' status codes and texts;
- :mod:`.conversation`: a session's sends and notes, node addresses;
- :mod:`.smtp`, :mod:`.pop3`, :mod:`.imap`, :mod:`.http`: each protocol's layout worded and
  placed from its trace;
- :mod:`.build`: every trace to its conversation (:func:`~.build.build_conversations`);
- :mod:`.jsonl`: writing and reading ``transcripts.jsonl``.
"""
