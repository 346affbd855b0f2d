using Dapper;
using Npgsql;

namespace Subscriptions.Api.Webhooks;

/// <summary>
/// Whether any endpoint is registered, known for a few seconds at a time: every signup wakes the
/// webhook workers, and without an endpoint they should not look in the outbox for each one.
/// This instance's admin API drops the answer on every change; another instance's change is seen
/// within <see cref="MaxAge"/> (and at the latest on the next poll).
/// </summary>
public sealed class WebhookEndpointCache(NpgsqlDataSource dataSource, TimeProvider clock)
{
    static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);

    sealed record Known(bool Any, DateTimeOffset At);

    Known? _known; // read and written whole by several workers at once

    public async ValueTask<bool> AnyAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _known) is { } known && clock.GetUtcNow() - known.At < MaxAge)
        {
            return known.Any;
        }

        var at = clock.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var any = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT FROM webhook_endpoints WHERE disabled_at IS NULL)", cancellationToken: cancellationToken));
        Volatile.Write(ref _known, new Known(any, at));
        return any;
    }

    public void Invalidate() => Volatile.Write(ref _known, null);
}
