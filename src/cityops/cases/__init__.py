"""The 一网统管 case workflow: working-time deadlines first; intake, routing and the loop follow."""
