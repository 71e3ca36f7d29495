"""The impact report (`lessonbot report`), the admin summary and demo data.

queries: the figures, as SQL aggregates. privacy: small-cell suppression. tables: figures to
labelled, protected tables. charts and html: the page. build: collect and write everything.
stats: the admin summary for the chat. demo: believable data to try it all on.

Nothing here imports a Telegram framework: the report runs where the bot doesn't.
"""
