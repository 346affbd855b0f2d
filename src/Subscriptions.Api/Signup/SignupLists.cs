using System.Collections.Frozen;
using Dapper;
using Npgsql;

namespace Subscriptions.Api.Signup;

/// <summary>
/// What a signup needs of its lists, kept in memory: every signup reads them, editors change
/// them rarely, and a lookup per signup was as much of the service's work as the signup's own
/// statement. A name not in memory reloads at once (a list just created elsewhere); otherwise
/// the copy is at most <see cref="MaxAge"/> old, and this instance's lists API drops it on every
/// change. So another instance may use a list's old thank-you URL or default language for that
/// long; the consent text version is always read from the table in the signup's statement.
/// </summary>
public sealed class SignupLists(NpgsqlDataSource dataSource, TimeProvider clock)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);

    public sealed record Target(string Slug, string? ThankYouUrl, string DefaultLocale);

    sealed record Snapshot(FrozenDictionary<string, Target> BySlug, DateTimeOffset LoadedAt);

    readonly Lock _gate = new();
    Snapshot? _snapshot;
    int _generation; // counts invalidations, so a load that raced one is not kept

    /// <summary>The named lists that exist, in the order named.</summary>
    public async ValueTask<List<Target>> FindAsync(IReadOnlyCollection<string> slugs, CancellationToken cancellationToken)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if (snapshot is null || clock.GetUtcNow() - snapshot.LoadedAt > MaxAge || !slugs.All(snapshot.BySlug.ContainsKey))
        {
            snapshot = await LoadAsync(cancellationToken);
        }

        return slugs.Where(snapshot.BySlug.ContainsKey).Select(slug => snapshot.BySlug[slug]).ToList();
    }

    public void Invalidate()
    {
        lock (_gate)
        {
            _generation++;
            _snapshot = null;
        }
    }

    async Task<Snapshot> LoadAsync(CancellationToken cancellationToken)
    {
        int generation;
        lock (_gate)
        {
            generation = _generation;
        }

        var loadedAt = clock.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var lists = await connection.QueryAsync<Target>(new CommandDefinition(
            // an archived list takes no signups: to a signup it is a list that does not exist
            "SELECT slug AS Slug, thank_you_url AS ThankYouUrl, default_locale AS DefaultLocale FROM lists WHERE archived_at IS NULL",
            cancellationToken: cancellationToken));
        var snapshot = new Snapshot(lists.ToFrozenDictionary(l => l.Slug, StringComparer.Ordinal), loadedAt);
        lock (_gate)
        {
            if (_generation == generation)
            {
                _snapshot = snapshot;
            }
        }

        return snapshot;
    }
}
