"""The read side: a cursor in, ranked completions out (DESIGN §2), plus chat and navigation.

    pipeline        `Completer`: the completion pipeline as named stages
    context         the cursor's context (lines before, typed text, BM25 query)
    candidates      the line store and the visible lines that continue the typed text
    edits           copy-and-edit options (identifiers rewritten from the local context)
    features        an option's ranking features
    option_scoring  the token head's scores of options and short generations
    line_latents    options' latents from the bank
    hoprag          HopRAG retrieval over the code graph
    ranker          the learned ranker and its calibration
    multiline       finishing a shown option to several lines
    chat, navigation
"""
