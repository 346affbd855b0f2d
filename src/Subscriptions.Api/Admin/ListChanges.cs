using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Signup;
using static Subscriptions.Api.Admin.ListEndpoints;

namespace Subscriptions.Api.Admin;

/// <summary>A list changed in part (PATCH) or archived (DELETE): the rest of "lists, complete".</summary>
public static class ListChanges
{
    /// <remarks>
    /// A JSON merge patch (RFC 7396) over the list as PUT would take it: a field given replaces
    /// the list's, null takes it back to its default, an object (translations) merges per key. The
    /// result then goes through PUT's own validation and rules (an unchanged consentTextVersion
    /// keeps every consent text), so a patch can never make what a PUT could not.
    /// </remarks>
    internal static async Task<Results<Ok<ListDetails>, NotFound, ValidationProblem, ProblemHttpResult>> PatchList(
        string slug, JsonObject patch, ListInputValidator validator, NpgsqlDataSource dataSource, SignupLists signupLists,
        IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        if (!InputRules.IsListSlug(slug))
        {
            return TypedResults.NotFound();
        }

        ListDetails? current;
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        {
            current = await connection.QuerySingleOrDefaultAsync<ListDetails>(new CommandDefinition(
                $"SELECT {Columns} FROM lists WHERE slug = @slug", new { slug }, cancellationToken: cancellationToken));
            if (current is null)
            {
                return TypedResults.NotFound();
            }

            current = current with
            {
                Translations = (await ListTranslations.ReadAsync(connection, slug, cancellationToken)).GetValueOrDefault(slug, ListTranslations.None),
            };
        }

        var options = json.Value.SerializerOptions;
        var merged = JsonSerializer.SerializeToNode(new ListInput
        {
            Name = current.Name, SenderName = current.SenderName, SenderEmail = current.SenderEmail, ThankYouUrl = current.ThankYouUrl,
            ConfirmedUrl = current.ConfirmedUrl, ErrorUrl = current.ErrorUrl, AllowedOrigins = current.AllowedOrigins,
            ConsentText = current.ConsentText, ConsentTextVersion = current.ConsentTextVersion, DefaultLocale = current.DefaultLocale,
            Welcome = current.Welcome, Hidden = current.Hidden,
            Translations = current.Translations.ToDictionary(t => t.Key, t => (ListTranslation?)t.Value),
        }, options)!.AsObject();
        Merge(merged, patch);

        ListInput input;
        try
        {
            input = merged.Deserialize<ListInput>(options)!;
        }
        catch (JsonException ex)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                [ex.Path?.TrimStart('$', '.') is { Length: > 0 } path ? path : "body"] = ["This value has the wrong type."],
            });
        }

        return await UpdateList(slug, input with { Slug = slug }, validator, dataSource, signupLists, cancellationToken);
    }

    /// <summary>RFC 7396: null removes, an object merges into an object, anything else replaces. Names match without regard to case, as binding does.</summary>
    static void Merge(JsonObject target, JsonObject patch)
    {
        foreach (var (name, value) in patch.ToList())
        {
            var existing = target.Select(p => p.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
            if (value is null)
            {
                if (existing is not null)
                {
                    target.Remove(existing);
                }
            }
            else if (value is JsonObject inner && existing is not null && target[existing] is JsonObject innerTarget)
            {
                Merge(innerTarget, inner);
            }
            else
            {
                if (existing is not null)
                {
                    target.Remove(existing);
                }

                target[name] = value.DeepClone();
            }
        }
    }

    /// <remarks>
    /// No new signups (the form gets the usual unknown-list error; readers cannot add it in their
    /// preference centre); its subscriptions, ledger and export rows stay. 204, also when it was
    /// archived already; 404 unknown; 409 for the default list, which a signup without a choice joins.
    /// </remarks>
    internal static async Task<Results<NoContent, NotFound, ProblemHttpResult>> ArchiveList(
        string slug, NpgsqlDataSource dataSource, SignupLists signupLists, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (!InputRules.IsListSlug(slug))
        {
            return TypedResults.NotFound();
        }

        if (slug == InputRules.DefaultList)
        {
            return TypedResults.Problem($"{slug} is the default list, which a signup without a choice joins: it cannot be archived.",
                statusCode: StatusCodes.Status409Conflict, title: "Default list");
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var found = await connection.ExecuteScalarAsync<bool>(new CommandDefinition("""
            WITH archived AS (
                UPDATE lists SET archived_at = @now, updated_at = @now WHERE slug = @slug AND archived_at IS NULL
            )
            SELECT EXISTS (SELECT FROM lists WHERE slug = @slug)
            """, new { slug, now = clock.GetUtcNow() }, cancellationToken: cancellationToken));
        signupLists.Invalidate();
        return found ? TypedResults.NoContent() : TypedResults.NotFound();
    }
}
