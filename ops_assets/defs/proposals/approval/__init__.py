"""The proposals workflow's approval: the policy's `send_proposal` decides, the owner approves
or rejects."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("proposal_approval", set())
