"""The proposals workflow (issue 18): a sales lead becomes a bounded plan, a scope of work
priced from the owner's catalogue by code, a verified, versioned proposal with its PDF, sent
once after the owner's approval. Its agents are the subfolders; `workflow.py` says what it
takes. It may use ops_assets' shared helpers and resources, never another workflow's assets."""
