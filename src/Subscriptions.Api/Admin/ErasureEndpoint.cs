using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Subscriptions.Api.Data;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Outbox;

namespace Subscriptions.Api.Admin;

public static class ErasureEndpoint
{
    public static RouteGroupBuilder MapErasure(this RouteGroupBuilder admin)
    {
        admin.MapDelete("/subscribers/{email}", Erase)
            .WithName("EraseSubscriber")
            .WithSummary("Erases a person's data everywhere (right to erasure). 204 whether or not the address was known.");
        return admin;
    }

    /// <remarks>
    /// In one transaction: the ledger rows of the person's subscriptions lose their personal
    /// fields and gain an 'erased' event; the subscriber goes, and with it (by cascade) the
    /// subscriptions, unsent mail and tokens. What remains is a keyed hash of the address and the
    /// time, and whether the address was suppressed (so that it stays so: address_suppressed). Webhook deliveries about the person that carry the address are deleted, delivered or
    /// not, and the endpoints that asked for it hear <c>subscriber.erased</c> with the keyed hash
    /// alone. An unknown address also gets 204 (erasure is idempotent), and leaves no trace.
    /// </remarks>
    static async Task<Results<NoContent, ValidationProblem>> Erase(
        string email, NpgsqlDataSource dataSource, ServiceKeys keys, OutboxSignal signal, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (!EmailAddress.TryNormalize(email, out var normalized))
        {
            return AddressProblem.NotAnAddress();
        }

        var addressHash = await keys.MacAsync("erasure", normalized, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            WITH person AS (
                SELECT id FROM subscribers WHERE email = @normalized FOR UPDATE
            ),
            their_subscriptions AS (
                SELECT sub.id, sub.list_id FROM subscriptions sub JOIN person ON sub.subscriber_id = person.id
            ),
            -- their mails' outbox rows, locked before the delete below cascades to the subscriptions:
            -- the order in which recording a delivery takes them (its outbox row, then its ledger
            -- row's key lock on the subscription). Cascading first, an erasure during that mail's
            -- delivery deadlocked with its record, and one of the two failed (the erasure: a 503).
            mail_held AS (
                SELECT o.id FROM outbox o WHERE o.subscription_id IN (SELECT id FROM their_subscriptions) FOR UPDATE
            ),
            -- the ledger's personal fields (wipe_personal_ledger, 0011: one definition with retention);
            -- a SELECT CTE runs only when read, so the events it leaves behind read it
            blanked AS (
                SELECT wipe_personal_ledger(ARRAY(SELECT id FROM their_subscriptions)) AS events
            ),
            recorded AS (
                INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at)
                SELECT NULL, list_id, 'erased', @now FROM their_subscriptions CROSS JOIN blanked
            ),
            -- off the suppression list (history included), but an active suppression stays in force
            -- through the hash; the bounces reported about the address go too
            unsuppressed AS (
                DELETE FROM suppressions WHERE email = @normalized RETURNING reason, lifted_at
            ),
            bounces_forgotten AS (
                DELETE FROM bounce_events WHERE email = @normalized
            ),
            traced AS (
                INSERT INTO erasures (address_hash, erased_at, suppression_reason)
                SELECT @addressHash, @now, (SELECT reason FROM unsuppressed WHERE lifted_at IS NULL)
                WHERE EXISTS (SELECT FROM person) OR EXISTS (SELECT FROM unsuppressed WHERE lifted_at IS NULL)
            ),
            forgotten AS (
                DELETE FROM outbox WHERE kind = 'webhook' AND ordering_key IN (SELECT id FROM person)
            ),
            told AS (
                INSERT INTO outbox (kind, webhook_endpoint_id, ordering_key, payload, created_at, due_at)
                SELECT 'webhook', w.id, person.id, jsonb_build_object('type', 'subscriber.erased', 'timestamp', @now, 'data',
                           jsonb_build_object('addressHash', encode(@addressHash, 'base64'), 'lists', their_lists.slugs)),
                       @now, @now
                FROM person
                CROSS JOIN (SELECT array_agg(l.slug ORDER BY l.slug) AS slugs
                            FROM their_subscriptions t JOIN lists l ON l.id = t.list_id) AS their_lists
                JOIN webhook_endpoints w ON w.disabled_at IS NULL AND 'subscriber.erased' = ANY (w.events)
                                        AND (cardinality(w.lists) = 0 OR w.lists && their_lists.slugs)
            )
            DELETE FROM subscribers WHERE id IN (SELECT id FROM person) AND (SELECT count(*) FROM mail_held) >= 0
            """, new { normalized, addressHash, now = clock.GetUtcNow() }, cancellationToken: cancellationToken));
        signal.Raise(OutboxLane.Webhooks);
        return TypedResults.NoContent();
    }
}
