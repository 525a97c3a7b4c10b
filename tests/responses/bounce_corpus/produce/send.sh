#!/bin/sh
# Submit the corpus letters to the local MTA through its sendmail interface (no port 25 needed).
# Recipients' local parts tell the sink (sink.py) how to answer: gone* 550, full* 452, busy* 421;
# nosuch@vm / nosuch@localhost is a local user that does not exist. $1 names the MTA in the ids.
set -eu
MTA=$1
FROM=bounces+4242.5415ad171cfd1bf2158c@appeals.example.net
LOCAL=${2:-vm}
n=0
letter() {
    n=$((n + 1))
    id="<delivery-$MTA-$n.5415ad171cfd1bf2158c@appeals.example.net>"
    {
        printf 'From: Appeals <letters@appeals.example.net>\n'
        printf 'To: %s\n' "$(echo "$@" | sed 's/ /, /g')"
        printf 'Subject: Appeal on behalf of a prisoner of conscience (%s %s)\n' "$MTA" "$n"
        printf 'Message-ID: %s\n' "$id"
        printf 'Date: %s\n' "$(date -R)"
        printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
        if [ "$n" = 7 ]; then printf 'X-Mailman-Version: 2.0.1\nX-Note: status 4.4.7 quoted\n'; fi
        printf '\nDear Prosecutor,\n\nWe write about a case (reference 2.0.1, file 5.7.1).\n'
        printf 'Please reply to this address.\n'
    } | /usr/sbin/sendmail -f "$FROM" "$@"
}
letter gone-prosecutor@mx.example.org
letter "nosuch@$LOCAL"
letter full-registry@mx.example.org
letter busy-ombudsman@mx.example.com
letter gone-one@mx.example.org full-two@mx.example.org accepted@mx.example.org
letter gone-a@mx.example.org gone-b@mx.example.net
letter gone-mailman@mx.example.org
letter full-minister@mx.example.net "nosuch2@$LOCAL"
