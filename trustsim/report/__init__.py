"""Client-ready decks from any result: `build_report(load_results(dir), "deck.pptx")`."""

from trustsim.report.deck import Deck, DeckInfo, MissingToolError, build_report, chosen_charts

__all__ = ["Deck", "DeckInfo", "MissingToolError", "build_report", "chosen_charts"]
