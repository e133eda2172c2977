"""Meeting scheduler: one judgement reads the request, code reads free/busy and finds slots, the owner says yes."""
