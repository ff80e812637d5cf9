"""What every agent folder in ops_assets/defs/ shares: running a batch of model calls with
its checks and failures (agent_run), prompt templates and their versions (prompting), the
bounded memory context a prompt carries (context), and the owner's free meeting slots
(scheduling). May use governance/, quality/ and resources/; knows no particular agent."""
