"""Protocol exchanges: each session's dialogue laid out as data (:mod:`.dialogue`), what it costs
in round trips and transfer time and what can fail (:mod:`.smtp`, :mod:`.retrieval`), and what
a traced session records (:mod:`.trace`)."""
