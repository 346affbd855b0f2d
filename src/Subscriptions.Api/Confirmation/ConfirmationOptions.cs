namespace Subscriptions.Api.Confirmation;

public sealed class ConfirmationOptions
{
    public const string Section = "Confirmation";

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>A repeat signup of a pending address re-sends the mail at most this often...</summary>
    public TimeSpan ResendInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>...and at most this many times in 24 hours.</summary>
    public int DailyLimit { get; set; } = 5;

    /// <summary>One reminder to a signup still pending this long after it was made; zero turns reminders off.</summary>
    public TimeSpan ReminderAfter { get; set; } = TimeSpan.FromDays(2);

    /// <summary>How often the reminder job looks for signups due a reminder.</summary>
    public TimeSpan ReminderInterval { get; set; } = TimeSpan.FromMinutes(1);
}
