namespace Subscriptions.Api.Import;

/// <summary>
/// The answer to an import: what was (or, with dryRun, would be) created, updated and kept, what
/// was refused and why (unsubscribed, suppressed, erased, cleaned, duplicate), and the first
/// <see cref="MaxErrors"/> rows that could not be read, by line.
/// </summary>
public sealed class ImportReport(string format, string profile, string list, bool dryRun)
{
    public const int MaxErrors = 100;

    public string Format { get; } = format;

    public string Profile { get; } = profile;

    public string List { get; } = list;

    public bool DryRun { get; } = dryRun;

    /// <summary>false when the file could not be read to its end (see the last error); the rows before it were imported.</summary>
    public bool Complete { get; set; } = true;

    public long Rows { get; set; }

    public long Created { get; set; }

    public long Updated { get; set; }

    public long Kept { get; set; }

    public long Invalid { get; set; }

    public SortedDictionary<string, long> Refused { get; } = new(StringComparer.Ordinal);

    public long ConfirmationsQueued { get; set; }

    public List<ImportError> Errors { get; } = [];

    public void Add(ImportError error)
    {
        Invalid++;
        if (Errors.Count < MaxErrors)
        {
            Errors.Add(error);
        }
    }

    public void Count(string outcome, long rows)
    {
        switch (outcome)
        {
            case "created":
                Created += rows;
                break;
            case "updated":
                Updated += rows;
                break;
            case "kept":
                Kept += rows;
                break;
            default:
                Refused[outcome] = Refused.GetValueOrDefault(outcome) + rows;
                break;
        }
    }
}
