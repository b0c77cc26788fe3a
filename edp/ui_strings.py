"""Strings the page scripts show, translated on the server (the scripts have no gettext).

Placeholders are `{name}` and are filled in by the scripts (`t(key, {name: ...})` in socket.js),
so translators keep the braces and the word inside them as they are.
"""

from flask_babel import gettext as _


def ui_strings() -> dict[str, str]:
    return {**_core(), **method_common(), **phone_method(), **console_method(),
            **invitation_strings(), **evidence_strings()}


def _core() -> dict[str, str]:
    return {
        # connection and feedback
        "connecting": _("Connecting…"),
        "offline": _("Offline — reconnecting…"),
        "connect_unreachable": _(
            "Still cannot reach the server at {host}. Check that this device is on the workshop's Wi-Fi. Trying again…"
        ),
        "connect_refused": _(
            "The server does not accept live updates for this address ({host}). Ask the facilitator for the right link."
        ),
        "origin_refused": _("No live updates at this address: use the link at the top of the page."),
        "saving": _("Saving…"),
        "saved": _("Saved"),
        "timeout": _("No answer from the server. Check your connection and try again."),
        "error": _("Something went wrong. Try again."),
        # phases
        "phase_lobby": _("Lobby"),
        "phase_vision": _("Vision"),
        "phase_propose": _("Propose"),
        "phase_discuss": _("Discuss"),
        "phase_vote": _("Vote"),
        "phase_results": _("Results"),
        "phase_decide": _("Decide"),
        "phase_closed": _("Closed"),
        "phase_now": _("Phase: {phase}"),
        # the phase countdown (phones, projector, console)
        "time_left": _("Time left"),
        "time_up": _("Time is up"),
        "one_minute_left": _("One minute left."),
        "queued": _("Not sent yet: waiting for the connection…"),
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
        "scored_progress": _("Domains scored: {n} of {total}"),
        "own_no_vote": _("Your proposal: in this workshop you cannot vote for it."),
        "vote_help_rank": _(
            "Put the domains in your order of preference with the arrows. Each move is saved at once."
        ),
        "rank_none": _("Not ranked yet: move the domains into your order; it saves as you go."),
        "rank_partial": _(
            "Some domains are not in your ranking yet (marked below): move them into place, or keep this order."
        ),
        "rank_saved": _("Your ranking is saved. Move a domain to change it: each move is saved at once."),
        "rank_status_none": _("Not ranked yet"),
        "rank_status_partial": _("Some domains are not ranked yet"),
        "not_saved": _("Not saved"),
        "not_in_ranking": _("Not in your ranking yet"),
        "late_pending": _(
            "The vote closed while your last change was still being sent. Checking whether it arrived in time…"
        ),
        "late_saved": _("Your last change arrived before the vote closed: it counts."),
        "late_lost_nothing": _(
            "The vote closed before your change arrived: it does not count, and you have no ballot in this vote."
        ),
        "late_lost": _(
            "The vote closed before your last change arrived: that change does not count. What you had saved before still counts."
        ),
        "proposal_merged": _("Merged into “{title}”"),
        "proposal_hidden": _("Hidden by the facilitator"),
        "proposal_now": _("Your proposal “{title}”: {status}"),
        "sdgs_label": _("Sustainable Development Goals"),
        "sdg_n": _("SDG {n}"),
        "sdgs_chosen": _("chosen: {list}"),
        "closed_newcomer": _("This workshop is closed. These are the priorities it agreed on."),
        "closed_just_now": _("This workshop has just closed, so it takes no new participants."),
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
        "indicator_from_to": _("{name}: from {baseline} to {target}"),
        "indicator_baseline": _("{name}: baseline {baseline}"),
        "indicator_target": _("{name}: target {target}"),
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
        "indicators_help": _(
            "Write name | baseline | target; baseline and target are optional, e.g. Firms in the value chain | 120 | 200"
        ),
        "funders_label": _("Funders and instruments, one per line"),
        "under_represented": _("under-represented"),
        "priorities_count": _("Short list: {n} of {max}"),
        "timer_invalid": _("Write the countdown in minutes, a number from 0 to 1440."),
        "timer_started": _("Countdown started."),
        "timer_stopped": _("Countdown stopped."),
        "queue_waiting": _("Proposals waiting for your approval: {n}"),
        "includes": _("Includes: {list}"),
        # the console's cockpit (phase, offline actions, panels)
        "next_phase": _("Next phase: {phase}"),
        "previous_phase": _("Back to {phase}"),
        "no_next_phase": _("Next phase"),
        "start_countdown": _("Start the countdown"),
        "stop_countdown": _("Stop the countdown"),
        "this_action": _("this action"),
        "offline_not_sent": _(
            "You are offline: “{action}” was not sent. Nothing is sent by itself when the connection returns."
        ),
        "offline_back": _("Back online. “{action}” was not sent: send it now?"),
        "offline_discarded": _("“{action}” was discarded."),
        "maybe_not_sent": _(
            "The connection dropped while “{action}” was being sent: check the console before trying again."
        ),
        "method_before_vote": _("The voting method can change until the vote opens."),
        "new_count": _("{n} new"),
        "waiting_count": _("{n} waiting"),
        "new_since": _("New since you last looked: {n}"),
        "new_badge": _("New"),
        "similar_to": _("Looks like “{title}” (similarity {score}%)"),
        "merge_into_similar": _("Merge into “{title}”"),
        "merged_done": _("“{title}” was merged into “{into}”."),
        "voted_of": _("{n} of {m} have voted"),
        "n_of_m": _("{n} of {m}"),
        "all_domains": _("All domains"),
        "wall_count": _("{n} shown, {hidden} hidden"),
        "wall_none_match": _("No comments match these filters."),
        "hide_comment": _("Hide the comment “{text}”"),
        "restore_comment": _("Restore the comment “{text}”"),
        "restore": _("Restore"),
        "comment_hidden": _("Comment hidden: the phones and the projector no longer show it."),
        "comment_restored": _("Comment restored: everyone sees it again."),
        # results charts (projector and console)
        "axis_points": _("Points, split by group"),
        "axis_borda": _("Borda points, split by group"),
        "axis_score_split": _("Score from 1 to 5, split by group"),
        "axis_balanced_share": _("Helix-balanced score, each group's share"),
        "axis_balanced": _("Helix-balanced score (every group counts the same)"),
        "axis_consensus": _("Consensus across groups"),
        "kind_broad": _("No warning"),
        # helices too small to show on their own, pooled on phones and the projector
        "other_groups": _("Other groups"),
        "kind_polarised": _("Helices disagree"),
        "kind_one_helix": _("Support from one group only"),
        "consensus_value": _("Consensus: {value}"),
        # the projector: turnout during the vote, pages of long lists, the chart's numbers
        "have_voted": _("{n} of {total} have voted"),
        "voted_of_joined": _("{voted} of {joined}"),
        "page_of": _("Page {page} of {pages}"),
        "paused": _("paused"),
        "chart_numbers": _("Numbers are places in the ranking."),
        "chart_numbers_top": _("Numbers are places in the ranking; the top {n} are shown."),
        # warnings in plain words (console)
        "warn_one_helix": _("Support comes only from {helix}"),
        "warn_polarised": _("Helices disagree"),
        "warn_polarised_who": _("Helices disagree: it matters to {high}, not to {low}"),
        "under_represented_summary": _(
            "Under-represented: {list}. Bring them in before the vote opens."
        ),
        "under_represented_voting": _("Under-represented: {list}."),
        "no_warnings": _("No warnings: no domain depends on one group, no group disagrees strongly."),
        # the trade-off at the line (console, decide)
        "line_caption": _("The line: at most {max} priorities. What is on the short list, and what falls below it."),
        "above_line": _("On the short list"),
        "below_line": _("Below the line: not on the short list"),
        "not_decided": _("Not decided yet ({n} of {max} places open)"),
        "outscores": _("Scores higher than priority {rank}"),
        "outscores_balanced": _("Helix-balanced score higher than priority {rank}"),
        "no_votes_for": _("No votes"),
        # floods: comments loaded page by page, joining throttled or closed (issue #14)
        "comments_loading": _("Loading comments…"),
        "comments_older": _("Show earlier comments"),
        "comments_load_failed": _("The comments could not be loaded. Try again."),
        "join_retry": _("Many people are joining right now; trying again in {n} s…"),
        "joining_open": _("Joining is open"),
        "joining_closed": _("Joining is closed"),
        "close_joining": _("Close joining"),
        "open_joining": _("Open joining"),
        "joining_closed_help": _("Only people who have already joined can come back in."),
    }


def method_common() -> dict[str, str]:
    """The method beyond voting (vision, SWOT, funders), shared by every page."""
    return {
        "vision_title": _("Our shared vision"),
        "agree": _("Agree"),
        "disagree": _("Disagree"),
        "pass": _("Pass"),
        "adopted": _("Adopted"),
        "agreement_value": _("Agreement across groups: {value}"),
        "swot_title": _("SWOT"),
        "swot_strength": _("Strengths"),
        "swot_weakness": _("Weaknesses"),
        "swot_opportunity": _("Opportunities"),
        "swot_threat": _("Threats"),
        "swot_none": _("No SWOT items yet."),
        "funding_title": _("Funders' signal"),
        "funding_yes": _("Yes"),
        "funding_maybe": _("Maybe"),
        "funding_no": _("No"),
        "funding_counts": _("Funders: {yes} yes · {maybe} maybe · {no} no"),
        "funding_none": _("No funder has spoken yet."),
        "instrument": _("Instrument"),
    }


def phone_method() -> dict[str, str]:
    """Phone-only strings for the vision, SWOT and funding screens (participant.js)."""
    return {
        # vision: one statement at a time
        "statement_progress": _("Statement {n} of {m}"),
        "vision_done": _("You have reacted to every statement."),
        "vision_none": _("No statements yet."),
        "your_reaction": _("Your reaction: {reaction}"),
        "change_reaction": _("Change reaction"),
        "change_reaction_to": _("Change your reaction to “{text}”"),
        "chars_left": _("{n} of {max} characters left"),
        "statement_saved": _("Thank you. Your statement was added."),
        "statement_required": _("Write your statement first."),
        # SWOT on the domain cards
        "swot_quadrant": _("Part of the SWOT"),
        "swot_text": _("Your point"),
        "swot_add": _("Add to SWOT"),
        "swot_saved": _("Thank you. Added to the SWOT."),
        "swot_required": _("Write your point first."),
        "swot_more": _("Show all {n}"),
        "swot_fewer": _("Show fewer"),
        # funders' yes / maybe / no
        "instrument_optional": _("Instrument (optional)"),
        "instrument_save": _("Save instrument"),
        "funding_mine": _("Your signal: {signal}"),
        "funding_mine_instrument": _("Your signal: {signal} · instrument: {instrument}"),
        "funding_mine_none": _("You have not given your signal yet."),
    }


def console_method() -> dict[str, str]:
    """Console and projector strings for the vision, SWOT and funding views."""
    return {
        # console: the vision panel
        "vision_count": _("{n} statements, {adopted} adopted"),
        "reaction_counts": _("{agree} agree · {disagree} disagree · {pass} pass"),
        "reactions_by_group": _("Reactions by group"),
        "adopt": _("Adopt"),
        "adopt_statement": _("Adopt the statement “{text}”"),
        "statement_adopted": _("Adopted into the shared vision."),
        "statement_unadopted": _("No longer adopted."),
        "hide_statement": _("Hide the statement “{text}”"),
        "restore_statement": _("Restore the statement “{text}”"),
        "statement_hidden": _("Statement hidden: the phones and the projector no longer show it."),
        "statement_restored": _("Statement restored: everyone sees it again."),
        "add_statement": _("Add a statement"),
        "statement_added": _("Statement added: the phones have it."),
        "vision_text_required": _("Write the statement first."),
        # console: a domain's SWOT and funders' signal
        "swot_count": _("SWOT: {n}"),
        "swot_quadrant_empty": _("Nothing yet."),
        "hide_swot": _("Hide the SWOT item “{text}”"),
        "restore_swot": _("Restore the SWOT item “{text}”"),
        "swot_hidden_done": _("SWOT item hidden: the phones and the projector no longer show it."),
        "swot_restored_done": _("SWOT item restored: everyone sees it again."),
        "instruments_named": _("Instruments named: {list}"),
        # projector
        "no_statements_screen": _("No statements yet: write yours on your phone."),
        "vision_top": _("The {n} statements with the broadest agreement, of {total}"),
    }


def invitation_strings() -> dict[str, str]:
    """Personal invitations (participant.js, console.js)."""
    return {
        "invited_summary": _("{joined} of {invitations} invited joined · {walk_ins} walk-ins"),
    }


def evidence_strings() -> dict[str, str]:
    """The region's evidence beside each domain and the sector picker (evidence.js, used by
    participant.js, console.js and screen.js)."""
    return {
        # a linked sector's figures, joined with " · "
        "evidence_title": _("Regional evidence"),
        "evidence_rca": _("RCA {value}"),
        "evidence_share": _("{value} of the region's total"),
        "evidence_density": _("density {value}"),
        "evidence_complexity": _("complexity {value}"),
        "evidence_related": _("Related strengths: {list}"),
        "evidence_source": _("Source: {source}, {year}"),
        "evidence_source_only": _("Source: {source}"),
        "evidence_more": _("(+{n} more)"),
        "evidence_none": _("No sector linked yet."),
        "evidence_summary": _("Evidence: {text}"),
        # the sector picker (phone's proposal form, console's "Link sectors")
        "sectors_search": _("Search the region's sectors"),
        "sectors_help": _("Type a name or a code and tap a sector to add it (at most {max})."),
        "sectors_matches": _("Matching sectors"),
        "sectors_chosen_label": _("Chosen sectors"),
        "sectors_chosen": _("{n} of at most {max} sectors chosen"),
        "sectors_none_match": _("No sector matches “{text}”."),
        "sectors_max": _("You have chosen {max} sectors, the most a domain can have."),
        "sector_add": _("Add the sector {name}"),
        "sector_remove": _("Remove the sector {name}"),
        # console
        "link_sectors_for": _("Link sectors to {title}"),
        "save_sectors": _("Save the linked sectors"),
        "sectors_linked": _("Sectors linked: the phones and the projector show the evidence."),
        "diagnosis_none": _("No regional data loaded yet."),
        "diagnosis_loaded": _("Regional data: {source}, {year}, {n} sectors ({region})"),
    }
