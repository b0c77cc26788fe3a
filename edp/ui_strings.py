"""Strings the page scripts show, translated on the server (the scripts have no gettext).

Placeholders are `{name}` and are filled in by the scripts (`t(key, {name: ...})` in socket.js),
so translators keep the braces and the word inside them as they are.
"""

from flask_babel import gettext as _


def ui_strings() -> dict[str, str]:
    return {
        # connection and feedback
        "connecting": _("Connecting…"),
        "offline": _("Offline — reconnecting…"),
        "saving": _("Saving…"),
        "saved": _("Saved"),
        "timeout": _("No answer from the server. Check your connection and try again."),
        "error": _("Something went wrong. Try again."),
        # phases
        "phase_lobby": _("Lobby"),
        "phase_propose": _("Propose"),
        "phase_discuss": _("Discuss"),
        "phase_vote": _("Vote"),
        "phase_results": _("Results"),
        "phase_decide": _("Decide"),
        "phase_closed": _("Closed"),
        "phase_now": _("Phase: {phase}"),
        # voting methods
        "method_dot": _("Dot voting"),
        "method_score": _("Multi-criteria scoring"),
        "method_rank": _("Ranking"),
        # comment stances
        "stance_support": _("Support"),
        "stance_concern": _("Concern"),
        "stance_question": _("Question"),
        "stance_evidence": _("Evidence"),
        # domain statuses (console)
        "status_approved": _("Approved"),
        "status_pending": _("Waiting for approval"),
        "status_hidden": _("Hidden"),
        "status_merged": _("Merged"),
        "merged_into": _("Merged into: {title}"),
        # participant page
        "joined_as": _("You take part as: {helix}"),
        "joining": _("Joining…"),
        "joined": _("You have joined."),
        "pick_helix": _("Pick the group you represent."),
        "participants_total": _("Participants: {n}"),
        "no_domains": _("No domains yet."),
        "no_comments": _("No comments yet."),
        "comments_count": _("Comments: {n}"),
        "seed_domain": _("From the regional diagnosis"),
        "your_proposal": _("Your proposal"),
        "sdgs": _("SDGs: {list}"),
        "proposal_saved": _("Thank you. Your proposal was added."),
        "comment_saved": _("Thank you. Your comment was added."),
        "comment_on": _("Comment on this domain"),
        "title_required": _("Give your proposal a title."),
        "comment_required": _("Pick a domain and write your comment."),
        "points_left": _("Points left: {n} of {budget}"),
        "points_for": _("Points for {title}"),
        "add_point": _("Add a point to {title}"),
        "remove_point": _("Take a point from {title}"),
        "vote_help_dot": _(
            "Spread your points over the domains you think the region should prioritise. You can change them until the vote closes."
        ),
        "vote_help_score": _(
            "Score each domain from 1 (low) to 5 (high) on every criterion. You can change your scores until the vote closes."
        ),
        "vote_help_rank": _("Put the domains in your order of preference, then save your ranking."),
        "move_up": _("Move {title} up"),
        "move_down": _("Move {title} down"),
        "ranking_unsaved": _("Your ranking has changes that are not saved yet."),
        "ranking_saved": _("Your ranking is saved."),
        "results_waiting": _("The results will appear here when the facilitator shows them."),
        "score_value": _("Score: {score}"),
        "balanced_value": _("Helix-balanced: {score}"),
        "voters_value": _("Voters: {n}"),
        "no_votes_yet": _("No votes yet."),
        "no_priorities": _("No priorities have been decided yet."),
        "priority_n": _("Priority {rank}"),
        "indicators": _("Monitoring indicators"),
        "closed_thanks": _("The workshop is closed. Thank you for taking part."),
        # facilitator console
        "approve": _("Approve"),
        "hide": _("Hide"),
        "merge": _("Merge"),
        "merge_into": _("Merge {title} into"),
        "approve_domain": _("Approve {title}"),
        "hide_domain": _("Hide {title}"),
        "merge_domain": _("Merge {title}"),
        "choose_domain": _("Choose a domain"),
        "reveal_show": _("Show results to everyone"),
        "reveal_hide": _("Hide results from participants"),
        "results_shown": _("Participants and the projector see the results."),
        "results_hidden": _("Only you see the results."),
        "method_now": _("Voting method: {method}"),
        "method_locked": _("The voting method can only change before the vote opens."),
        "decide_only": _("Priorities can be recorded in the Decide phase."),
        "decided_as": _("On the short list as priority {rank}"),
        "save_priority": _("Save priority"),
        "undecide": _("Remove from short list"),
        "rank_label": _("Rank"),
        "rationale_label": _("Rationale (required)"),
        "indicators_label": _("Indicators, one per line"),
        "under_represented": _("under-represented"),
        "priorities_count": _("Short list: {n} of {max}"),
    }
