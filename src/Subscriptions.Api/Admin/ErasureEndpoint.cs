using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Subscriptions.Api.Data;
using Subscriptions.Api.Signup;

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
    /// time. An unknown address also gets 204 (erasure is idempotent), and leaves no trace.
    /// </remarks>
    static async Task<Results<NoContent, ValidationProblem>> Erase(
        string email, NpgsqlDataSource dataSource, ServiceKeys keys, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (!EmailAddress.TryNormalize(email, out var normalized))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["email"] = ["Not an address this service could have stored."] });
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
            blanked AS (
                UPDATE subscription_events e SET ip = NULL, user_agent = NULL, source = NULL
                FROM their_subscriptions t WHERE e.subscription_id = t.id
            ),
            recorded AS (
                INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at)
                SELECT NULL, list_id, 'erased', @now FROM their_subscriptions
            ),
            traced AS (
                INSERT INTO erasures (address_hash, erased_at) SELECT @addressHash, @now FROM person
            )
            DELETE FROM subscribers WHERE id IN (SELECT id FROM person)
            """, new { normalized, addressHash, now = clock.GetUtcNow() }, cancellationToken: cancellationToken));

        return TypedResults.NoContent();
    }
}
